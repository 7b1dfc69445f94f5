"""Compare two installed builds of lambdaver on the same work, interleaved (A B, B A, ...).

Single runs on a shared machine move by more than a few per cent; running the two builds
alternately on identical copies of one tree, many times, lets drift hit both alike, so
the ratio of their medians is a fair answer to "is B slower than A?".

Measures, per round: ``publish`` after a one-file edit of a generated tree (the measure
most sensitive to the scan), ``status`` after it, and ``versions list``.  Both copies
publish exactly the same files: the ``.lambdaverignore`` that newer builds write at
``init`` is removed unless ``--keep-ignore`` is given.

    python bench_ab.py --a /tmp/lvbase/bin/python --b /tmp/lvafter/bin/python --rounds 25
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_env, remove_tree, settle_after_removals
from gen_tree import edit_one_file, generate_tree


def lambdaver_of(python: str) -> list[str]:
    script = Path(python).parent / "lambdaver"
    return [str(script)] if script.exists() else [python, "-m", "lambdaver"]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}: {proc.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="python of the first build's venv")
    parser.add_argument("--b", required=True, help="python of the second build's venv")
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--size-mb", type=float, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--keep-ignore",
        action="store_true",
        help="keep the .lambdaverignore init writes (trees may then differ)",
    )
    parser.add_argument("--workdir", help="parent of the temporary directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lv-ab-", dir=args.workdir))
    try:
        env = bench_env(work / "home")
        src = work / "src"
        print(f"generating {args.files} files / {args.size_mb} MB ...", file=sys.stderr)
        generate_tree(src, files=args.files, size_mb=args.size_mb, seed=0)
        builds = {"A": lambdaver_of(args.a), "B": lambdaver_of(args.b)}
        dirs = {}
        for name, cmd in builds.items():
            d = work / name
            shutil.copytree(src, d, symlinks=True)
            subprocess.run([*cmd, "init", "--name", "fn"], cwd=d, env=env, check=True,
                           capture_output=True)  # fmt: skip
            ignore = d / ".lambdaverignore"
            if ignore.exists() and not args.keep_ignore:
                ignore.unlink()
            dirs[name] = d
        remove_tree(src)
        settle_after_removals()
        for name, cmd in builds.items():
            timed([*cmd, "publish"], dirs[name], env)  # first publish, untimed
        times: dict[str, dict[str, list[float]]] = {
            n: {"publish": [], "status": [], "versions": []} for n in builds
        }
        for r in range(args.rounds):
            order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
            for name in order:
                edit_one_file(dirs[name], seed=1000 + r)
            for name in order:
                times[name]["status"].append(timed([*builds[name], "status"], dirs[name], env))
            for name in order:
                times[name]["publish"].append(timed([*builds[name], "publish"], dirs[name], env))
            for name in order:
                t = timed([*builds[name], "versions", "list"], dirs[name], env)
                times[name]["versions"].append(t)
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
        print(f"{'measure':<12} {'A median s':>11} {'B median s':>11} {'B/A':>6}  "
              f"{'A min':>7} {'B min':>7}")  # fmt: skip
        for what in ("status", "publish", "versions"):
            a, b = statistics.median(times["A"][what]), statistics.median(times["B"][what])
            print(f"{what:<12} {a:>11.3f} {b:>11.3f} {b / a:>6.2f}  "
                  f"{min(times['A'][what]):>7.3f} {min(times['B'][what]):>7.3f}")  # fmt: skip
    finally:
        remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
