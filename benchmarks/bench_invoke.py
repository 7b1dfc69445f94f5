"""Invoke figures: a cold ``lambdaver invoke`` against its two unavoidable parts, and
200 invocations through a weighted alias in a shell loop.

    python benchmarks/bench_invoke.py [--repeat 20] [--loop 200] [--json FILE]

Target (issue "invoke"): cold invoke <= minimal click start-up + bare
``python -c "import app; app.handler({}, None)"``, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run

MINIMAL_CLICK = """\
import click


@click.group()
def cli():
    pass


@cli.command()
def hello():
    click.echo("hello")


cli()
"""

HANDLER = """\
def handler(event, context):
    return {"ok": True}
"""


def setup(root: Path, env: dict[str, str]) -> Path:
    fn = root / "fn"
    fn.mkdir()
    (fn / "app.py").write_text(HANDLER)
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    lv = lambdaver_cmd()
    run([*lv, "init", "--name", "bench", "--runtime", runtime], cwd=fn, env=env)
    run([*lv, "publish"], cwd=fn, env=env)
    (fn / "app.py").write_text(HANDLER.replace("True", "False"))
    run([*lv, "publish"], cwd=fn, env=env)
    run([*lv, "alias", "create", "live", "--version", "2", "--weight", "1=0.3"], cwd=fn, env=env)
    (root / "minimal_click.py").write_text(MINIMAL_CLICK)
    return fn


def run_invoke(repeat: int = 20, loop: int = 200) -> dict[str, Any]:
    """Time the cold invoke against its two parts, then ``loop`` invocations through a
    weighted alias; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = bench_env(root / "home")
        fn = setup(root, env)
        lv = lambdaver_cmd()
        cmds = {
            "click": [sys.executable, str(root / "minimal_click.py"), "hello"],
            "bare": [sys.executable, "-c", "import app; app.handler({}, None)"],
            "invoke": [*lv, "invoke", "--qualifier", "1", str(root / "out.json")],
        }
        for c in cmds.values():  # warm up (bytecode caches, materialised tree)
            run(c, cwd=fn, env=env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(repeat):
            for k, c in cmds.items():
                times[k].append(run(c, cwd=fn, env=env)[0])
        med = {k: median(v) or 0.0 for k, v in times.items()}
        t0 = time.perf_counter()
        split: dict[str, int] = {}
        for _ in range(loop):
            _, proc = run(
                [*lv, "invoke", "--qualifier", "live", "--query", "ExecutedVersion",
                 "--output", "text", str(root / "out.json")],
                cwd=fn, env=env,
            )  # fmt: skip
            v = proc.stdout.strip()
            split[v] = split.get(v, 0) + 1
        loop_s = time.perf_counter() - t0
    return {"median_s": med, "loop": loop, "loop_s": loop_s, "split": split}


def format_invoke(res: dict[str, Any]) -> list[str]:
    med, loop = res["median_s"], res["loop"]
    budget = med["click"] + med["bare"]
    ok = "met" if med["invoke"] <= budget else "MISSED"
    share = res["split"].get("1", 0) / loop
    return [
        "invoke (medians; a function whose runtime is this Python)",
        f"  minimal click start-up            {1000 * med['click']:7.1f} ms",
        f"  bare python import + handler      {1000 * med['bare']:7.1f} ms",
        f"  sum (the target)                  {1000 * budget:7.1f} ms",
        f"  lambdaver invoke --qualifier 1    {1000 * med['invoke']:7.1f} ms  "
        f"{med['invoke'] / budget:.2f}x the target  {ok}",
        f"  {loop} invocations through 'live' (30% on version 1): {res['loop_s']:.2f} s "
        f"({1000 * res['loop_s'] / loop:.1f} ms each); split "
        f"{dict(sorted(res['split'].items()))}, {100 * share:.1f}% on version 1",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--loop", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = run_invoke(args.repeat, args.loop)
    info = machine_info()
    print("\n".join([machine_line(info), *format_invoke(res)]))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **res}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
