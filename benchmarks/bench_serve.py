"""A warm invocation through ``lambdaver serve`` (boto3) against a cold ``lambdaver invoke``
of the same trivial handler, and against the handler's own time.

    python benchmarks/bench_serve.py [--repeat 50] [--json FILE]

Targets (issue "serve"): warm invoke median <= 0.15x the cold invoke's, and <= 5 ms above
the handler's own time (the REPORT line's Duration).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run

HANDLER = """\
def handler(event, context):
    return {"ok": True}
"""


def start_server(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [*lambdaver_cmd(), "serve", str(root), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    buf = b""
    while time.monotonic() < deadline and b"\n" not in buf:
        if sel.select(timeout=1):
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    sel.close()
    line = buf.decode().splitlines()[0] if buf else ""
    if not line.startswith("Listening on "):
        os.killpg(proc.pid, signal.SIGKILL)
        raise SystemExit(f"the server did not start: {buf.decode()}")
    return proc, line.split("Listening on ", 1)[1]


def run_serve(repeat: int = 50) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = bench_env(root / "home")
        fn = root / "fn"
        fn.mkdir()
        (fn / "app.py").write_text(HANDLER)
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        lv = lambdaver_cmd()
        run([*lv, "init", "--name", "bench", "--runtime", runtime], cwd=fn, env=env)
        run([*lv, "publish"], cwd=fn, env=env)
        cold_cmd = [*lv, "invoke", "--qualifier", "1", str(root / "out.json")]
        run(cold_cmd, cwd=fn, env=env)  # warm caches (bytecode, materialised tree)
        proc, url = start_server(fn, env)
        try:
            client = boto3.client(
                "lambda", endpoint_url=url, region_name="us-east-1",
                aws_access_key_id="x", aws_secret_access_key="x",  # noqa: S106 - any is taken
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip
            first = client.invoke(FunctionName="bench", Qualifier="1", LogType="Tail")
            first["Payload"].read()
            cold, warm, handler = [], [], []
            for _ in range(repeat):
                cold.append(run(cold_cmd, cwd=fn, env=env)[0])
                t0 = time.perf_counter()
                out = client.invoke(FunctionName="bench", Qualifier="1", LogType="Tail")
                out["Payload"].read()
                warm.append(time.perf_counter() - t0)
                log = base64.b64decode(out["LogResult"]).decode()
                m = re.search(r"\tDuration: ([0-9.]+) ms", log)
                handler.append(float(m.group(1)) / 1000 if m else 0.0)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
            if proc.stderr is not None:
                proc.stderr.close()
    return {
        "repeat": repeat,
        "median_s": {"cold": median(cold), "warm": median(warm), "handler": median(handler)},
    }


def format_serve(res: dict[str, Any]) -> list[str]:
    med = res["median_s"]
    ratio = med["warm"] / med["cold"]
    above = 1000 * (med["warm"] - med["handler"])
    return [
        f"serve (medians of {res['repeat']}; a trivial handler, version 1)",
        f"  cold lambdaver invoke             {1000 * med['cold']:7.1f} ms",
        f"  warm invoke through boto3         {1000 * med['warm']:7.2f} ms  "
        f"{ratio:.3f}x the cold invoke  {'met' if ratio <= 0.15 else 'MISSED'} (<= 0.15x)",
        f"  handler's own time (REPORT)       {1000 * med['handler']:7.2f} ms  warm is "
        f"{above:.2f} ms above it  {'met' if above <= 5 else 'MISSED'} (<= 5 ms)",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = run_serve(args.repeat)
    info = machine_info()
    print("\n".join([machine_line(info), *format_serve(res)]))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **res}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
