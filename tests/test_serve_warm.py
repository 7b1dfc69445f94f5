"""Warm execution environments (contract §10), driven through the pool the server uses:
state and /tmp persist, Init Duration on cold starts only, one environment per concurrent
invocation, idle ones stopped, $LATEST's replaced, timeouts and crashes contained."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from lambdaver.runtime import EnvironmentSpec
from lambdaver.runtime.warm import WarmEnvironment, WarmPool

HANDLER = """\
import os, time
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    if event.get("fail"):
        raise ValueError("bad " + event["fail"])
    if event.get("tmp"):
        with open("/tmp/" + event["tmp"], "a") as f:
            f.write("x")
        with open("/tmp/" + event["tmp"]) as f:
            tmp = f.read()
    else:
        tmp = None
    print("count", COUNT)
    return {"count": COUNT, "pid": os.getpid(), "tmp": tmp, "v": V}

V = 1
"""


def spec(code: Path, version: str = "1", timeout: int = 3) -> EnvironmentSpec:
    return EnvironmentSpec(
        code_dir=str(code), handler="app.handler", runtime="python3.11", environment={},
        function_name="fn", function_version=version, memory_size=128, timeout=timeout,
        region="us-east-1",
    )  # fmt: skip


@pytest.fixture
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    d.mkdir()
    (d / "app.py").write_text(HANDLER)
    return d


@pytest.fixture
def pool() -> object:
    p = WarmPool(idle_timeout=300)
    yield p
    p.close()


def call(pool: WarmPool, s: EnvironmentSpec, event: dict[str, object]) -> tuple[dict, object]:
    env = pool.acquire(s)
    try:
        result = env.invoke(
            json.dumps(event).encode(),
            request_id=os.urandom(8).hex(),
            invoked_function_arn="arn:aws:lambda:us-east-1:0:function:fn",
        )
    finally:
        pool.release(env)
    payload = json.loads(result.payload) if result.payload else {}
    return payload, result


def test_state_and_tmp_persist_and_init_duration_only_on_the_cold_start(pool, code) -> None:
    tag = f"lv-warm-{os.getpid()}-{time.monotonic_ns()}"
    try:
        first, r1 = call(pool, spec(code), {"tmp": tag})
        second, r2 = call(pool, spec(code), {"tmp": tag})
    finally:
        Path("/tmp", tag).unlink(missing_ok=True)
    assert (first["count"], second["count"]) == (1, 2)
    assert first["pid"] == second["pid"] != os.getpid()  # never in this process
    assert (first["tmp"], second["tmp"]) == ("x", "xx")
    assert "Init Duration:" in r1.log and r1.init_duration_ms is not None
    assert "Init Duration:" not in r2.log and r2.init_duration_ms is None
    assert r2.log.startswith("START RequestId: ") and "count 2\n" in r2.log
    assert pool.started == 1


def test_concurrent_invocations_get_separate_environments(pool, code) -> None:
    results: list[dict] = []

    def run() -> None:
        results.append(call(pool, spec(code), {"sleep": 0.5})[0])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len({r["pid"] for r in results}) == 2
    assert pool.started == 2 and pool.idle_count() == 2


def test_idle_environments_are_stopped(code) -> None:
    p = WarmPool(idle_timeout=0.3)
    try:
        first, _ = call(p, spec(code), {})
        deadline = time.monotonic() + 10
        while p.idle_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.idle_count() == 0
        with pytest.raises(ProcessLookupError):
            os.kill(first["pid"], 0)  # stopped and reaped
        second, r = call(p, spec(code), {})
        assert second["count"] == 1 and "Init Duration:" in r.log
    finally:
        p.close()


def test_a_changed_latest_replaces_its_environments(pool, code, tmp_path) -> None:
    first, _ = call(pool, spec(code, "$LATEST"), {})
    changed = tmp_path / "code2"
    changed.mkdir()
    (changed / "app.py").write_text(HANDLER.replace("V = 1", "V = 2"))
    second, _ = call(pool, spec(changed, "$LATEST"), {})
    assert (first["v"], second["v"]) == (1, 2)
    assert second["count"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)  # the old $LATEST's environment was stopped
    # versions are never retired by another version's spec
    v1, _ = call(pool, spec(code, "1"), {})
    v1b, _ = call(pool, spec(code, "1"), {})
    assert v1["pid"] == v1b["pid"]


def test_a_timeout_replaces_the_environment(pool, code) -> None:
    first, _ = call(pool, spec(code, timeout=1), {})
    payload, r = call(pool, spec(code, timeout=1), {"sleep": 5})
    assert r.error_type == "Sandbox.Timedout" and r.function_error == "Unhandled"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)
    again, r2 = call(pool, spec(code, timeout=1), {})
    assert again["count"] == 1 and "Init Duration:" in r2.log


def test_a_crash_or_error_is_contained(pool, code) -> None:
    err, r = call(pool, spec(code), {"fail": "input"})
    assert r.function_error == "Unhandled" and err["errorType"] == "ValueError"
    assert err["errorMessage"] == "bad input"
    assert "[ERROR] ValueError: bad input" in r.log
    ok, _ = call(pool, spec(code), {})
    assert ok["count"] == 2  # a function error keeps the environment
    crash, r = call(pool, spec(code), {"exit": True})
    assert r.error_type == "Runtime.ExitError"
    assert "exit status 3" in crash["errorMessage"]
    fresh, _ = call(pool, spec(code), {})
    assert fresh["count"] == 1


def test_an_init_failure_is_the_invocation_error_and_is_retried(pool, code) -> None:
    (code / "app.py").write_text("raise RuntimeError('no init')\n")
    err, r = call(pool, spec(code), {})
    assert err["errorType"] == "RuntimeError" and r.log.startswith("START RequestId:")
    (code / "app.py").write_text(HANDLER)
    ok, _ = call(pool, spec(code), {})
    assert ok["count"] == 1


def test_stop_kills_the_environment(code) -> None:
    env = WarmEnvironment(spec(code))
    pid = env.pid
    env.stop()
    env.stop()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
