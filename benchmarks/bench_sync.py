"""push against moto's server: how many calls, uploads and seconds a push of 20 versions
of a 2,000-file function costs, and a push with nothing new (docs/performance.md, "Push").

    .venv/bin/python benchmarks/bench_sync.py [--files 2000] [--versions 20]

Needs boto3 and moto[server] (the ``test`` extra).  moto runs on a free loopback port
and is killed at the end; nothing else is reached.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()  # noqa: S310
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's
        AWS_DEFAULT_REGION="us-east-1", NO_PROXY="127.0.0.1",
    )  # fmt: skip
    import boto3

    from lambdaver.service import functions, sync
    from lambdaver.service.settings import Settings

    proc, url = _start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(
                Path(tmp) / "none"
            )
            root = Path(tmp) / "big"
            for i in range(args.files):
                p = root / f"pkg{i % 40}" / f"m{i}.py"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"VALUE = {i}\n" + "# padding\n" * 20)
            (root / "app.py").write_text("def handler(e, c):\n    return 0\n")
            repo, _ = functions.init_function(root, Settings(), name="big")
            distinct = 0
            for v in range(args.versions):
                if v % 4 == 3:  # every fourth version changes only its configuration
                    functions.update_configuration(repo, timeout=3 + v)
                else:
                    (root / "app.py").write_text(f"def handler(e, c):\n    return {v}\n")
                    distinct += 1
                functions.publish(repo)
            iam = boto3.client("iam", endpoint_url=url)
            role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            calls: Counter[str] = Counter()
            uploaded = [0]

            def count(model: Any, params: dict[str, Any], **_kw: Any) -> None:
                calls[model.name] += 1

            def size(params: dict[str, Any], **_kw: Any) -> None:
                data = params.get("ZipFile") or (params.get("Code") or {}).get("ZipFile")
                uploaded[0] += len(data or b"")

            client = sync.lambda_client(None, "us-east-1", url)
            client.meta.events.register("before-call.lambda.*", count)
            client.meta.events.register("provide-client-params.lambda.*", size)
            from lambdaver.service.aliases import create_alias

            create_alias(repo, "prod", str(args.versions), weights={str(args.versions - 1): 0.1})
            create_alias(repo, "dev", "$LATEST")

            t0 = time.perf_counter()
            sync.push(repo, client, "big", role=role)
            first = time.perf_counter() - t0
            first_calls = dict(calls)
            first_bytes = uploaded[0]
            calls.clear()
            t0 = time.perf_counter()
            plan = sync.push(repo, client, "big")
            second = time.perf_counter() - t0
            uploads = first_calls.get("UpdateFunctionCode", 0) + first_calls.get(
                "CreateFunction", 0
            )
            print(f"files {args.files}, versions {args.versions}, distinct codes {distinct}")
            sent = f"{first_bytes / 1e6:.1f} MB sent"
            print(f"first push: {first:.2f} s, uploads {uploads}, {sent}, "
                  f"calls {sorted(first_calls.items())}")  # fmt: skip
            print(f"second push: {second:.3f} s, changes {plan.changes}, "
                  f"calls {sorted(calls.items())}")  # fmt: skip
            assert uploads == distinct, (uploads, distinct)
            assert set(calls) <= {"ListVersionsByFunction", "ListAliases"}, calls
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    main()
