"""Node.js invoke figures: a cold ``lambdaver invoke`` of a trivial Node handler against
its two unavoidable parts, and warm invocations through ``lambdaver serve``'s Node
environment (one figure).

    python benchmarks/bench_node.py [--repeat 20] [--warm 200] [--json FILE]

Target (issue #18): cold invoke <= minimal click start-up + ``node -e`` running the same
handler, measured in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run
from bench_invoke import MINIMAL_CLICK

HANDLER = "exports.handler = async (event, context) => ({ ok: true });\n"
NODE_E = "require('./index.js').handler({}, {}).then((r) => JSON.stringify(r))"


def run_node(repeat: int = 20, warm: int = 200) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench_node: no 'node' on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = bench_env(root / "home")
        fn = root / "fn"
        fn.mkdir()
        (fn / "index.js").write_text(HANDLER)
        lv = lambdaver_cmd()
        run([*lv, "init", "--name", "bench"], cwd=fn, env=env)
        run([*lv, "publish"], cwd=fn, env=env)
        (root / "minimal_click.py").write_text(MINIMAL_CLICK)
        cmds = {
            "click": [sys.executable, str(root / "minimal_click.py"), "hello"],
            "node": [node, "-e", NODE_E],
            "invoke": [*lv, "invoke", "--qualifier", "1", str(root / "out.json")],
        }
        for c in cmds.values():  # warm up (bytecode caches, materialised tree)
            run(c, cwd=fn, env=env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(repeat):
            for k, c in cmds.items():
                times[k].append(run(c, cwd=fn, env=env)[0])
        med = {k: median(v) or 0.0 for k, v in times.items()}
        warm_ms = _warm(fn, warm)
    return {"median_s": med, "node": node, "warm": warm, "warm_ms": warm_ms}


def _warm(code_dir: Path, count: int) -> float:
    """Median milliseconds of ``count`` invocations of one warm Node environment (the
    environment ``lambdaver serve`` keeps), after its first (cold) one."""
    from lambdaver.runtime import EnvironmentSpec, warm_environment_for

    make = warm_environment_for("nodejs20.x")
    assert make is not None
    spec = EnvironmentSpec(
        code_dir=code_dir, handler="index.handler", runtime="nodejs20.x", environment={},
        function_name="bench", function_version="1", memory_size=128, timeout=3,
        region="us-east-1",
    )  # fmt: skip
    env = make(spec)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    try:
        env.invoke(b"{}", request_id="cold", invoked_function_arn=arn)
        times = []
        for i in range(count):
            t0 = time.perf_counter()
            env.invoke(b"{}", request_id=f"r{i}", invoked_function_arn=arn)
            times.append(time.perf_counter() - t0)
    finally:
        env.stop()
    return 1000 * (median(times) or 0.0)


def format_node(res: dict[str, Any]) -> list[str]:
    med = res["median_s"]
    budget = med["click"] + med["node"]
    ok = "met" if med["invoke"] <= budget else "MISSED"
    return [
        f"Node.js invoke (medians; {res['node']})",
        f"  minimal click start-up            {1000 * med['click']:7.1f} ms",
        f"  node -e running the handler       {1000 * med['node']:7.1f} ms",
        f"  sum (the target)                  {1000 * budget:7.1f} ms",
        f"  lambdaver invoke --qualifier 1    {1000 * med['invoke']:7.1f} ms  "
        f"{med['invoke'] / budget:.2f}x the target  {ok}",
        f"  warm environment (serve's), median of {res['warm']}: {res['warm_ms']:.2f} ms",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = run_node(args.repeat, args.warm)
    info = machine_info()
    print("\n".join([machine_line(info), *format_node(res)]))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **res}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
