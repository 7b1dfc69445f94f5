"""The console script's entry point.  Kept tiny so that Ctrl-C is handled even while the
CLI is still loading (click and lambdaver's modules take a few tens of milliseconds)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from lambdaver.cli.main import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    cli_main()
