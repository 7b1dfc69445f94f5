"""The console script's entry point.

Kept tiny so that Ctrl-C is handled even while the CLI is still loading (click and
lambdaver's modules take a few tens of milliseconds).

When the command is done, the process ends without tearing the interpreter down:
destroying every module and object of a process that has loaded click costs 6-8 ms, a
fifth of its whole start-up, and buys nothing here (every file lambdaver writes is
closed, and fsync'ed where it matters, before the command returns).  This is done only
when it is safe: nothing is registered with ``atexit`` and no other thread runs; then
stdout and stderr are flushed and the process exits with ``os._exit``.  ``main()`` of
``lambdaver.cli.main`` (what the tests call) exits normally.
"""

from __future__ import annotations

import sys


def main() -> None:
    # A command lives for milliseconds to seconds and makes no reference cycles worth
    # collecting; the cyclic collector's passes over the modules it loads and the entries
    # of a large tree cost time for nothing (a forked function process turns it back on).
    import gc

    gc.disable()
    try:
        from lambdaver.cli.main import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    try:
        cli_main()
    except SystemExit as exc:
        code = exc.code
        if (code is None or isinstance(code, int)) and _nothing_left_to_tear_down():
            _exit_now(code or 0)
        raise


def _nothing_left_to_tear_down() -> bool:
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    if count is None or count() != 0:
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _exit_now(code: int) -> None:
    """Flush stdout and stderr, then end the process at once (returns only if a flush
    fails, leaving that to the interpreter's normal exit)."""
    import os

    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
