"""``lambdaver serve`` and triggers: event source mappings through boto3, a queue message
delivered by the running server to a warm handler, little CPU while idle, and nothing lost
when the server is killed with SIGKILL while it delivers."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import pytest

from tests import serve_helpers
from tests.conftest import run_cli

Q = "arn:aws:sqs:us-east-1:000000000000:q"

HANDLER = """\
import os, time

def handler(event, context):
    for r in event["Records"]:
        body = r["body"] if "body" in r else "s3:" + r["s3"]["object"]["key"]
        if body.startswith("slow"):
            time.sleep(3)
        with open(os.environ["OUT"], "a") as f:
            f.write(body + " " + str(time.time()) + "\\n")
    return {}
"""


def cli(root: Path, *args: str) -> dict:
    r = run_cli("-C", str(root), "--output", "json", *args)
    assert r.exit_code == 0, r
    return r.json if r.stdout.strip() else {}


@pytest.fixture
def served_fn(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    out = tmp_path / "out.txt"
    cli(root.parent, "init", str(root))
    toml = root / "lambdaver.toml"
    toml.write_text(toml.read_text() + f'\n[environment]\nOUT = "{out}"\n')
    cli(root, "publish")
    cli(root, "alias", "create", "prod", "--version", "1")
    cli(root, "queue", "create", "q", "--visibility-timeout", "2")
    return root


def delivered(out: Path) -> list[tuple[str, float]]:
    if not out.exists():
        return []
    rows = [line.rsplit(" ", 1) for line in out.read_text().splitlines()]
    return [(b, float(t)) for b, t in rows]


def wait_for(out: Path, n: int, seconds: float = 20.0) -> list[tuple[str, float]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = delivered(out)
        if len(got) >= n:
            return got
        time.sleep(0.005)
    raise AssertionError(f"only {delivered(out)} delivered in {seconds} s")


def test_a_mapping_made_with_boto3_is_delivered_by_the_running_server(served_fn: Path) -> None:
    out = served_fn.parent / "out.txt"
    server = serve_helpers.start(served_fn)
    try:
        client = server.client()
        made = client.create_event_source_mapping(
            FunctionName="hello:prod", EventSourceArn=Q, BatchSize=1
        )
        assert made["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert made["State"] == "Creating"
        uuid = made["UUID"]
        assert client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
        listed = client.list_event_source_mappings(FunctionName="hello")
        assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
        with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
            client.create_event_source_mapping(FunctionName="hello:nope", EventSourceArn=Q)
        assert e.value.response["Error"]["Message"] == "Function does not exist"
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")

        # warm up the environment, then measure send -> handler
        cli(served_fn, "queue", "send", "q", "warm")
        wait_for(out, 1)
        latencies = []
        for i in range(7):
            sent = time.time()
            cli(served_fn, "queue", "send", "q", f"m{i}")
            got = wait_for(out, 2 + i)
            latencies.append(got[-1][1] - sent)
        median = statistics.median(latencies)
        assert median < 0.25, latencies  # the target is 50 ms; bounded loosely on a busy box
        updated = client.update_event_source_mapping(UUID=uuid, Enabled=False)
        assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert updated["State"] == "Updating"
        deleted = client.delete_event_source_mapping(UUID=uuid)
        assert deleted["State"] == "Deleting"
        entries = [e for e in cli(served_fn, "logs")["Events"] if e.get("Trigger")]
        assert entries and all(e["Trigger"].endswith(f"via ESM {uuid}") for e in entries)
    finally:
        server.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bucket_on_prod(root: Path, folder: Path) -> None:
    cli(root, "bucket", "create", "uploads", "--path", str(folder))
    cli(root, "add-permission", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
        "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::uploads",
        "--qualifier", "prod")  # fmt: skip
    cli(root, "bucket", "notify", "uploads", "--function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:hello:prod")  # fmt: skip


def test_the_running_server_delivers_a_bucket_change(served_fn: Path, tmp_path: Path) -> None:
    _bucket_on_prod(served_fn, tmp_path / "up")
    server = serve_helpers.start(served_fn)
    try:
        (tmp_path / "up" / "a b.txt").write_text("x")
        written = time.time()
        ((body, at),) = wait_for(tmp_path / "out.txt", 1, seconds=30)
        assert body == "s3:a+b.txt"  # the key, form-encoded as S3 sends it
        # within a few ticks (docs/triggers.md: 0.5 s) plus a cold start; loose, for a
        # loaded machine
        assert at - written < 15.0
        # the journal entry is written when the invocation has returned, a moment after
        # the handler wrote its file
        deadline = time.monotonic() + 10
        while True:
            entries = cli(served_fn, "logs")["Events"]
            if any(e.get("Trigger") == "bucket:uploads" for e in entries):
                break
            assert time.monotonic() < deadline, entries
            time.sleep(0.05)
    finally:
        server.stop()


def test_an_idle_server_with_a_mapping_uses_little_cpu(served_fn: Path, tmp_path: Path) -> None:
    cli(served_fn, "create-event-source-mapping", "--function-name", "hello:prod",
        "--event-source-arn", Q)  # fmt: skip
    _bucket_on_prod(served_fn, tmp_path / "up")
    cli(served_fn, "schedule", "create", "nightly", "--expression", "cron(0 3 * * ? *)",
        "--target", "arn:aws:lambda:us-east-1:000000000000:function:hello:prod")  # fmt: skip
    server = serve_helpers.start(served_fn)
    try:
        time.sleep(1.0)  # start-up done
        before = _cpu_seconds(server.proc.pid)
        time.sleep(5.0)
        used = _cpu_seconds(server.proc.pid) - before
        assert used / 5.0 < 0.02, used  # inotify: no polling (docs/performance.md)
    finally:
        server.stop()


def test_kill_9_while_delivering_loses_nothing(served_fn: Path) -> None:
    out = served_fn.parent / "out.txt"
    cli(served_fn, "create-event-source-mapping", "--function-name", "hello:prod",
        "--event-source-arn", Q, "--batch-size", "1")  # fmt: skip
    server = serve_helpers.start(served_fn)
    try:
        cli(served_fn, "queue", "send", "q", "slow one")
        for i in range(3):
            cli(served_fn, "queue", "send", "q", f"m{i}")
        time.sleep(1.0)  # the slow one is being delivered (it sleeps 3 s)
    finally:
        server.kill()
    assert "slow one" not in [b for b, _t in delivered(out)]
    server = serve_helpers.start(served_fn)
    try:
        got = wait_for(out, 4, seconds=30)
        bodies = {b for b, _t in got}
        assert {"slow one", "m0", "m1", "m2"} <= bodies
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            q = cli(served_fn, "queue", "list")["Queues"][0]["Attributes"]
            pending = (q["ApproximateNumberOfMessages"], q["ApproximateNumberOfMessagesNotVisible"])
            if pending == ("0", "0"):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(json.dumps(q))
    finally:
        server.stop()
