"""Triggers under ``lambdaver serve``: what an idle server with 10 triggers costs, and how
long a file written into a bucket folder takes to reach a warm handler.

One function with 4 queue mappings, 3 bucket notifications and 3 schedules (none due),
alias prod; ``lambdaver serve --port 0`` on 127.0.0.1.  Idle CPU: the server's utime +
stime from ``/proc/PID/stat`` over ``--idle`` seconds.  Latency: ``--files`` files written
one at a time into a bucket folder; the handler appends the time it saw each key to a
file; the figure is that time minus the time the file was closed.

    python bench_triggers.py            # with the lambdaver next to this interpreter
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import lambdaver_cmd, machine_info, machine_line

HANDLER = """\
import os, time

def handler(event, context):
    for r in event.get("Records", []):
        key = r["s3"]["object"]["key"] if "s3" in r else r.get("body", "")
        with open(os.environ["OUT"], "a") as f:
            f.write(f"{key} {time.time()}\\n")
    return {}
"""
FN = "arn:aws:lambda:us-east-1:000000000000:function:hello"


def cli(root: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([*lambdaver_cmd(), "-C", str(root), *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measure")
    parser.add_argument("--files", type=int, default=15, help="files written to a bucket")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lv-triggers-"))
    env = {**os.environ, "LAMBDAVER_CONFIG": str(work / "config.toml"), "NO_COLOR": "1"}
    root, out = work / "hello", work / "out.txt"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    cli(work, env, "init", str(root))
    toml = root / "lambdaver.toml"
    toml.write_text(toml.read_text() + f'\n[environment]\nOUT = "{out}"\n')
    cli(root, env, "publish")
    cli(root, env, "alias", "create", "prod", "--version", "1")
    for q in range(4):
        cli(root, env, "queue", "create", f"q{q}")
        cli(root, env, "create-event-source-mapping", "--function-name", "hello:prod",
            "--event-source-arn", f"arn:aws:sqs:us-east-1:000000000000:q{q}")  # fmt: skip
    for b in range(3):
        cli(root, env, "bucket", "create", f"bucket-{b}", "--path", str(work / f"b{b}"))
        cli(root, env, "add-permission", "--statement-id", f"s3-{b}", "--action",
            "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
            "--source-arn", f"arn:aws:s3:::bucket-{b}", "--qualifier", "prod")  # fmt: skip
        cli(root, env, "bucket", "notify", f"bucket-{b}", "--function-arn", f"{FN}:prod")
    for s in range(3):
        cli(root, env, "schedule", "create", f"s{s}", "--expression", "cron(0 3 1 1 ? *)",
            "--target", f"{FN}:prod")  # fmt: skip
    proc = subprocess.Popen(
        [*lambdaver_cmd(), "serve", "--port", "0"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b"Listening on" in proc.stderr.readline():
                break
        time.sleep(2.0)  # start-up done
        before = cpu_seconds(proc.pid)
        time.sleep(args.idle)
        idle = (cpu_seconds(proc.pid) - before) / args.idle
        latencies = []
        for i in range(args.files):
            path = work / "b0" / f"f{i}.txt"
            path.write_text("x")
            written = time.time()
            limit = time.monotonic() + 30
            while time.monotonic() < limit:
                seen = [ln.split() for ln in out.read_text().splitlines()] if out.exists() else []
                hit = [float(t) for k, t in seen if k == f"f{i}.txt"]
                if hit:
                    latencies.append(hit[0] - written)
                    break
                time.sleep(0.005)
            else:
                raise SystemExit(f"f{i}.txt never reached the handler")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(machine_line(machine_info()))
    print("one function: 4 queue mappings, 3 bucket notifications, 3 schedules")
    print(f"  idle server, CPU over {args.idle:.0f} s      {idle * 100:.2f} % of a core"
          "   target < 2 %")  # fmt: skip
    median_ms, max_ms = statistics.median(latencies) * 1000, max(latencies) * 1000
    print(f"  bucket file -> handler, median   {median_ms:.0f} ms"
          f"   (max {max_ms:.0f} ms of {len(latencies)})   target <= 1 s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
