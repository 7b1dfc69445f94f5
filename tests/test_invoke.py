"""invoke, logs and metrics through the CLI (docs/runtime.md)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdaver.runtime import Environment, EnvironmentPool, EnvironmentSpec, Executor, Warn
from lambdaver.runtime.fake import FakeEnvironment, FakeExecutor

from conftest import Fn, run_cli

HANDLER = """\
import os

def handler(event, context):
    print("log line from", context.function_version)
    return {
        "tag": TAG,
        "event": event,
        "version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "arn": context.invoked_function_arn,
        "stage": os.environ.get("STAGE"),
        "files": sorted(os.listdir(".")),
    }
"""


def code(tag: str) -> str:
    return f"TAG = {tag!r}\n" + HANDLER


@pytest.fixture
def versions(fn: Fn) -> Fn:
    """Version 1 (tag one, STAGE=one) and 2 (tag two, STAGE=two); $LATEST tag three."""
    fn.ok("config", "set", "--env", "STAGE=one")
    fn.publish(**{"app.py": code("one")})
    fn.ok("config", "set", "--env", "STAGE=two")
    fn.publish(**{"app.py": code("two")})
    fn.ok("config", "set", "--env", "STAGE=three")
    fn.write("app.py", code("three"))
    return fn


def invoke(fn: Fn, *args: str, input: str | None = None) -> tuple[int, dict, dict]:
    out = fn.root.parent / "out.json"
    r = run_cli("-C", str(fn.root), "--output", "json", "invoke", *args, str(out), input=input)
    meta = json.loads(r.stdout) if r.stdout else {}
    payload = json.loads(out.read_bytes()) if out.exists() and out.stat().st_size else {}
    return r.exit_code, meta, payload


def test_invoke_each_qualifier_runs_its_own_code_and_configuration(versions: Fn) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    code_, meta, p = invoke(versions, "--qualifier", "1", "--payload", '{"k": 1}')
    assert code_ == 0
    assert meta == {"StatusCode": 200, "ExecutedVersion": "1"}
    assert (p["tag"], p["stage"], p["version"], p["env_version"]) == ("one", "one", "1", "1")
    assert p["event"] == {"k": 1}
    assert p["arn"] == f"{arn}:1"
    _, meta, p = invoke(versions, "--qualifier", "2")
    assert (p["tag"], p["stage"], meta["ExecutedVersion"]) == ("two", "two", "2")
    assert p["event"] == {}  # empty payload: {}
    _, meta, p = invoke(versions)
    assert (p["tag"], p["stage"], meta["ExecutedVersion"]) == ("three", "three", "$LATEST")
    assert p["arn"] == arn  # unqualified: as invoked
    _, _, p = invoke(versions, "--qualifier", "$LATEST")
    assert p["arn"] == f"{arn}:$LATEST"


def test_latest_runs_without_ignored_files(versions: Fn) -> None:
    versions.write(".lambdaverignore", "notes.txt\n")
    versions.write("notes.txt", "not code")
    _, _, p = invoke(versions)
    assert p["files"] == ["app.py"]


def test_alias_invoke_and_weighted_routing_with_routing_key(versions: Fn) -> None:
    versions.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.5")
    seen = {}
    for key in [f"user-{i}" for i in range(40)]:
        _, meta, p = invoke(versions, "--qualifier", "prod", "--routing-key", key)
        seen[key] = meta["ExecutedVersion"]
        assert p["tag"] == {"1": "one", "2": "two"}[meta["ExecutedVersion"]]
        assert p["version"] == meta["ExecutedVersion"]
        assert p["arn"].endswith(":prod")
    assert set(seen.values()) == {"1", "2"}  # both sides of a 50% split are hit
    for key, version in list(seen.items())[:5]:  # sticky
        assert (
            invoke(versions, "--qualifier", "prod", "--routing-key", key)[1]["ExecutedVersion"]
            == version
        )
    versions.ok("alias", "update", "prod", "--weight", "1=0.0")
    assert {invoke(versions, "--qualifier", "prod")[1]["ExecutedVersion"] for _ in range(5)} == {
        "2"
    }


def test_function_error_exit_1_and_payload(fn: Fn) -> None:
    fn.write("app.py", "def handler(e, c):\n    raise ValueError('bad input')\n")
    code_, meta, p = invoke(fn)
    assert code_ == 1
    assert meta == {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST"}
    assert p["errorMessage"] == "bad input"
    assert p["errorType"] == "ValueError"
    assert set(p) == {"errorMessage", "errorType", "requestId", "stackTrace"}


def test_timeout(fn: Fn) -> None:
    fn.ok("config", "set", "--timeout", "1")
    fn.write("app.py", "import time\ndef handler(e, c):\n    time.sleep(30)\n")
    code_, _meta, p = invoke(fn)
    assert code_ == 1
    assert p["errorType"] == "Sandbox.Timedout"
    assert p["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_log_tail_and_output_to_stdout(fn: Fn) -> None:
    fn.write("app.py", "def handler(e, c):\n    print('hello log')\n    return 42\n")
    r = run_cli("-C", str(fn.root), "--output", "json", "invoke", "--log-type", "Tail")
    assert r.exit_code == 0
    assert r.stdout == "42\n"  # the payload; the metadata went to stderr
    meta = json.loads(r.stderr)
    log = base64.b64decode(meta["LogResult"]).decode()
    assert log.startswith("START RequestId: ")
    assert "hello log\n" in log
    assert "REPORT RequestId: " in log


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ("{not json", "InvalidRequestContentException", "Could not parse request body into json"),
        ("x" * 6_291_457, "RequestEntityTooLargeException",
         "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    ],
)  # fmt: skip
def test_bad_payload_refused_before_running(fn: Fn, payload: str, code: str, message: str) -> None:
    fn.write("app.py", "import pathlib\ndef handler(e, c):\n    pathlib.Path('/tmp/ran').touch()\n")
    r = fn("invoke", "--payload", payload)
    assert r.exit_code == 254
    assert (
        r.stderr
        == f"An error occurred ({code}) when calling the Invoke operation: "
        + r.stderr.split(": ", 1)[1]
    )
    assert message in r.stderr
    assert fn.ok("logs")["Events"] == []


def test_payload_from_file_and_stdin(fn: Fn, tmp_path: Path) -> None:
    fn.write("app.py", "def handler(e, c):\n    return e\n")
    (tmp_path / "ev.json").write_text('{"from": "file"}')
    r = fn("invoke", "--payload", f"file://{tmp_path / 'ev.json'}")
    assert r.stdout.splitlines()[0] == '{"from": "file"}'
    r = fn("invoke", "--payload", "-", input='{"from": "stdin"}')
    assert r.stdout.splitlines()[0] == '{"from": "stdin"}'


def test_dry_run_and_missing_qualifier(versions: Fn) -> None:
    r = versions("invoke", "--qualifier", "2", "--invocation-type", "DryRun")
    assert r.exit_code == 0
    assert json.loads(r.stderr) == {"StatusCode": 204}
    r = versions("invoke", "--qualifier", "9")
    assert r.exit_code == 254
    assert r.stderr.endswith(
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:9\n"
    )
    r = versions("invoke", "--function-name", "hello:1", "--qualifier", "2")
    assert r.exit_code == 254
    assert "does not match the specified qualifier" in r.stderr


def test_altered_materialised_code_is_never_run(versions: Fn) -> None:
    assert invoke(versions, "--qualifier", "1")[2]["tag"] == "one"
    run_dir = versions.root / ".lambdaver" / "cache" / "run"
    app = next(run_dir.glob("*/app.py"))
    app.chmod(0o644)
    app.write_text(code("tampered"))
    assert invoke(versions, "--qualifier", "1")[2]["tag"] == "one"  # re-made from the store


def test_corrupt_object_is_refused_with_its_name(versions: Fn) -> None:
    files = versions.ok("versions", "show", "1")["Files"]
    digest = files[0]["Sha256"]
    obj = versions.root / ".lambdaver" / "objects" / digest[:2] / digest[2:]
    obj.chmod(0o644)
    obj.write_text(code("evil"))
    r = versions("invoke", "--qualifier", "1")
    assert r.exit_code == 253
    assert f"Object {digest} fails its hash check" in r.stderr


def test_logs_and_metrics(versions: Fn) -> None:
    versions.ok("alias", "create", "live", "--version", "1")
    for q in ("1", "1", "2", "live"):
        invoke(versions, "--qualifier", q)
    events = versions.ok("logs")["Events"]
    assert [e["ExecutedVersion"] for e in events] == ["1", "1", "2", "1"]
    assert versions.ok("logs", "--qualifier", "live")["Events"][0]["Qualifier"] == "live"
    last = versions.ok("logs", "--tail", "1")["Events"]
    assert len(last) == 1 and "log line from 1" in last[0]["Log"]
    one = versions.ok("logs", "--request-id", events[2]["RequestId"])["Events"]
    assert [e["ExecutedVersion"] for e in one] == ["2"]
    m = {x["Version"]: x for x in versions.ok("metrics")["Metrics"]}
    assert (m["1"]["Invocations"], m["2"]["Invocations"], m["1"]["Errors"]) == (3, 1, 0)
    assert m["1"]["DurationMaxMs"] >= m["1"]["DurationP50Ms"] > 0


def test_invoke_help_lists_statuses() -> None:
    r = run_cli("invoke", "--help")
    assert "1 it returned a function error" in r.stdout
    assert os.environ.get("LAMBDAVER_OUTPUT") is None


# --- the service through the executor interface, with the fake executor --------------------


def _fake_handler(event: Any, context: Any) -> Any:
    return {"event": event, "arn": context.invoked_function_arn, "rid": context.aws_request_id}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeExecutor:
    """The fake executor, registered for every Python runtime."""
    executor = FakeExecutor({"app.handler": _fake_handler})
    monkeypatch.setattr("lambdaver.runtime.EXECUTORS", {"python": executor})
    return executor


def test_invoke_hands_the_version_to_the_registered_executor(
    versions: Fn, fake: FakeExecutor
) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    code_, meta, p = invoke(versions, "--qualifier", "1", "--payload", '{"k": 1}')
    assert (code_, meta) == (0, {"StatusCode": 200, "ExecutedVersion": "1"})
    (environment,) = fake.environments
    spec = environment.spec
    assert (spec.function_name, spec.function_version) == ("hello", "1")
    assert spec.handler == "app.handler"
    assert (spec.environment, spec.region) == ({"STAGE": "one"}, "us-east-1")
    assert (spec.timeout, spec.memory_size) == (3, 128)
    assert spec.runtime.startswith("python")
    assert (Path(spec.code_dir) / "app.py").read_text() == code("one")  # the version's code
    ((payload, request_id, invoked_arn),) = environment.invocations
    assert (payload, invoked_arn) == (b'{"k": 1}', f"{arn}:1")
    assert p == {"event": {"k": 1}, "arn": f"{arn}:1", "rid": request_id}
    assert environment.stopped  # one invocation, one environment
    (event,) = versions.ok("logs")["Events"]
    assert (event["RequestId"], event["ExecutedVersion"]) == (request_id, "1")
    assert event["Log"].startswith(f"START RequestId: {request_id} Version: 1\n")


def test_invoke_reports_what_the_executor_returns(fn: Fn, fake: FakeExecutor) -> None:
    fake.handlers["app.handler"] = lambda event, context: 1 / 0
    code_, meta, p = invoke(fn)
    assert code_ == 1
    assert meta == {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST"}
    assert (p["errorType"], p["errorMessage"]) == ("ZeroDivisionError", "division by zero")
    assert fn.ok("metrics")["Metrics"][0]["Errors"] == 1


class WarmPool(EnvironmentPool):
    """What a server would keep: one idle environment per spec, reused."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.idle: dict[str, Environment] = {}

    def acquire(self, spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
        key = repr(spec)
        return self.idle.pop(key, None) or self.executor.start(spec, warn)

    def release(self, environment: Environment) -> None:
        assert isinstance(environment, FakeEnvironment)
        self.idle[repr(environment.spec)] = environment


def test_the_service_takes_environments_from_the_pool_it_is_given(versions: Fn) -> None:
    from lambdaver.service.invoke import invoke as service_invoke
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import load_settings

    fake = FakeExecutor({"app.handler": _fake_handler})
    pool = WarmPool(fake)
    repo = Repository.discover(versions.root, load_settings())
    outputs = [
        service_invoke(repo, qualifier=q, payload=b'{"n": 1}', environments=pool)
        for q in ("1", "1", "2", "1")
    ]
    assert [o.executed_version for o in outputs] == ["1", "1", "2", "1"]
    assert [e.spec.function_version for e in fake.environments] == ["1", "2"]  # warm reuse
    assert [len(e.invocations) for e in fake.environments] == [3, 1]
    assert not any(e.stopped for e in fake.environments)


def test_the_service_needs_nothing_of_the_python_executor(fn: Fn) -> None:
    """With another executor registered, invoke never imports the Python one."""
    script = (
        "import json, sys\n"
        "from lambdaver.runtime import register\n"
        "from lambdaver.runtime.fake import FakeExecutor\n"
        "from lambdaver.service.invoke import invoke\n"
        "from lambdaver.service.repository import Repository\n"
        "from lambdaver.service.settings import load_settings\n"
        "register('python', FakeExecutor({'app.handler': lambda e, c: 'faked'}))\n"
        "out = invoke(Repository.discover('.', load_settings()), qualifier=None)\n"
        "print(json.dumps([out.payload.decode(), sorted(m for m in sys.modules\n"
        "                  if m.startswith('lambdaver.runtime'))]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=fn.root, capture_output=True, text=True, check=True
    )
    payload, modules = json.loads(r.stdout)
    assert payload == '"faked"'
    assert modules == ["lambdaver.runtime", "lambdaver.runtime.fake", "lambdaver.runtime.journal"]
