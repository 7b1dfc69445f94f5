"""What selecting a function by name from a project's root costs (cited by
docs/performance.md, "A project of several functions").

A project of ``--functions`` function directories (default 50) is built: half of them at
``functions/fn-N``, half at ``services/team-K/fn-N``, each with 21 files in two directories
and one published version, beside what real projects hold and discovery must skip or
pass over (a ``node_modules`` of 500 packages, a ``.git`` directory, ``docs/`` with a few
levels of directories).  Then, interleaved over ``--repeat`` runs after untimed warm-up
runs, the wall time of one command is measured in two places:

a. ``lambdaver get-function-configuration --function-name fn-25 --output json`` inside
   ``fn-25``'s directory (the repository is found by walking up, as before projects);
b. the same command at the project's root (fn-25 is found among the 50 functions).

The target: b - a <= 15 ms (contract §9).  ``list-functions`` at the root is timed too,
for reference.  Run it with the Python of a virtual environment where lambdaver is
installed (``pip install .``), as docs/performance.md explains.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run

TARGET_MS = 15.0
WARMUP = 3


def log(msg: str) -> None:
    print(f"[bench_project {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_project(root: Path, functions: int, env: dict[str, str]) -> dict[int, Path]:
    """The project described in the module's docstring; returns each function's directory."""
    lv = lambdaver_cmd()
    dirs: dict[int, Path] = {}
    for n in range(1, functions + 1):
        if n <= functions // 2:
            d = root / "functions" / f"fn-{n}"
        else:
            d = root / "services" / f"team-{n % 5}" / f"fn-{n}"
        (d / "lib").mkdir(parents=True)
        (d / "app.py").write_text(f"def handler(event, context):\n    return {n}\n")
        for i in range(20):
            (d / "lib" / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 20)
        run([*lv, "init", "--output", "json"], d, env)
        run([*lv, "publish", "--output", "json"], d, env)
        dirs[n] = d
    for i in range(500):  # what discovery skips by name
        pkg = root / "node_modules" / f"pkg-{i}" / "lib"
        pkg.mkdir(parents=True)
        (pkg / "index.js").write_text("module.exports = {}\n")
    for i in range(100):  # hidden: skipped
        (root / ".git" / "objects" / f"{i:02x}").mkdir(parents=True)
    for i in range(20):  # ordinary directories: searched to the depth limit
        d = root / "docs" / f"section-{i}" / "images" / "large"
        d.mkdir(parents=True)
        (d / "figure.png").write_bytes(b"\0" * 64)
    return dirs


def measure(
    places: dict[str, tuple[Path, list[str]]], env: dict[str, str], repeat: int
) -> dict[str, list[float]]:
    lv = lambdaver_cmd()
    for cwd, args in places.values():
        for _ in range(WARMUP):
            run([*lv, *args], cwd, env, capture=False)
    samples: dict[str, list[float]] = {name: [] for name in places}
    names = list(places)
    for i in range(repeat):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            cwd, args = places[name]
            elapsed, _ = run([*lv, *args], cwd, env, capture=False)
            samples[name].append(elapsed)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=50, help="functions (default 50)")
    parser.add_argument("--repeat", type=int, default=40, help="timed runs each (default 40)")
    args = parser.parse_args(argv)
    target = (args.functions + 1) // 2
    work = Path(tempfile.mkdtemp(prefix="lambdaver-bench-project-"))
    try:
        env = bench_env(work / "home")
        root = work / "project"
        log(f"building a project of {args.functions} functions")
        dirs = build_project(root, args.functions, env)
        command = [
            "get-function-configuration",
            "--function-name",
            f"fn-{target}",
            "--output",
            "json",
        ]
        places = {
            f"a. inside fn-{target}": (dirs[target], command),
            "b. at the project's root": (root, command),
            "c. list-functions at the root": (root, ["list-functions", "--output", "json"]),
        }
        log(f"timing {args.repeat} interleaved runs of each")
        samples = measure(places, env, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(machine_line(machine_info()))
    print(
        f"\nproject of {args.functions} functions; medians of {args.repeat} interleaved runs (ms)"
    )
    medians = {name: (median(s) or 0.0) * 1e3 for name, s in samples.items()}
    for name, value in medians.items():
        print(f"  {name:34} {value:7.1f}")
    inside, root_ms = list(medians.values())[:2]
    extra = root_ms - inside
    verdict = "met" if extra <= TARGET_MS else "MISSED"
    print(f"  {'b - a (target <= 15 ms)':34} {extra:+7.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
