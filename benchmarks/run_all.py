"""Run every lambdaver benchmark and print one combined table (cited by docs/performance.md).

By default: the publish benchmark on the small tree (2,000 files / 50 MiB), the
start-up benchmark (1,000 versions) and the invoke benchmark (a cold invoke against its
two parts; 200 invocations through a weighted alias).  ``--full`` adds the large tree
(20,000 files / 500 MiB), which needs about 4 GiB of free space in the temporary
directory and several minutes.  The scale benchmark (10,000 versions, 1,000 aliases) is
bench_scale.py, run on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine_info, machine_line
from bench_invoke import format_invoke, run_invoke
from bench_publish import format_publish, run_publish
from bench_startup import format_startup, run_startup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Progress goes to stderr, the table to stdout.",
    )
    parser.add_argument("--full", action="store_true", help="also run the large tree")
    parser.add_argument(
        "--repeat", type=int, default=3, help="repeats of each publish measure (default 3)"
    )
    parser.add_argument(
        "--versions", type=int, default=1000, help="versions for the start-up test (default 1000)"
    )
    parser.add_argument(
        "--startup-repeat", type=int, default=20, help="start-up timed runs (default 20)"
    )
    parser.add_argument("--workdir", help="parent of the temporary directories (default: $TMPDIR)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures to FILE")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.versions < 1 or args.startup_repeat < 1:
        parser.error("--repeat, --versions and --startup-repeat must be at least 1")

    t0 = time.perf_counter()
    info = machine_info()
    sizes = ["small", "large"] if args.full else ["small"]
    publish = run_publish(sizes, args.repeat, workdir=args.workdir)
    startup = run_startup(args.versions, args.startup_repeat, workdir=args.workdir)
    invoke = run_invoke(args.startup_repeat, 200)
    results: dict[str, Any] = {
        "machine": info,
        "publish": publish,
        "startup": startup,
        "invoke": invoke,
        "seconds": time.perf_counter() - t0,
    }

    lines = [machine_line(info), "", *format_publish(publish), "", *format_startup(startup)]
    lines += ["", *format_invoke(invoke)]
    lines += ["", f"(benchmarks ran in {results['seconds']:.0f}s)"]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = startup.get("error") or any(r["errors"] for r in publish["sizes"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
