"""Custom runtimes: lambdaver's Lambda Runtime API and the function's ``bootstrap``."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lambdaver.runtime import EnvironmentSpec, InvokeResult, executor_for, warm_environment_for
from tests.conftest import run_cli

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"
RID = "aaaaaaaa-2222-3333-4444-555555555555"

#: A stdlib-only runtime: it reports what the Runtime API sent, and obeys the event.
BOOTSTRAP = f"""\
#!{sys.executable}
import json, os, sys, urllib.error, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/"

def post(path, body, headers=None):
    req = urllib.request.Request(API + path, data=body, headers=headers or {{}})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

print("init", os.environ["_HANDLER"], flush=True)
if os.environ.get("INIT") == "error":
    post("init/error", b'{{"errorMessage": "no config", "errorType": "Init.Bad"}}',
         {{"Lambda-Runtime-Function-Error-Type": "Init.Bad"}})
    sys.exit(1)
if os.environ.get("INIT") == "exit":
    sys.exit(2)
count = 0
while True:
    with urllib.request.urlopen(API + "invocation/next") as r:
        headers = {{k: v for k, v in r.headers.items()}}
        event = json.loads(r.read())
    rid = headers["Lambda-Runtime-Aws-Request-Id"]
    count += 1
    print("handling", rid, flush=True)
    if event.get("sleep"):
        import time; time.sleep(event["sleep"])
    if event.get("exit"):
        sys.exit(event["exit"])
    if event.get("fail"):
        status = post(f"invocation/{{rid}}/error",
                      b'{{"errorMessage": "bad", "errorType": "MyError", "stackTrace": []}}',
                      {{"Lambda-Runtime-Function-Error-Type": "MyError"}})
        continue
    if event.get("big"):
        status = post(f"invocation/{{rid}}/response", b'"' + b"x" * 6291556 + b'"')
        continue
    answer = {{"event": event, "headers": headers, "count": count,
              "env": {{k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME",
              "AWS_LAMBDA_FUNCTION_VERSION", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_REGION",
              "AWS_LAMBDA_RUNTIME_API", "MINE")}},
              "wrong_id": post("invocation/not-this-one/response", b"{{}}"),
              "late_init_error": post("init/error", b"{{}}")}}
    post(f"invocation/{{rid}}/response", json.dumps(answer).encode())
"""


def spec(code_dir: Path, **fields: Any) -> EnvironmentSpec:
    values: dict[str, Any] = {
        "code_dir": code_dir,
        "handler": "my.handler",
        "runtime": "provided.al2023",
        "environment": {},
        "function_name": "hello",
        "function_version": "2",
        "memory_size": 128,
        "timeout": 3,
        "region": "us-east-1",
    }
    values.update(fields)
    return EnvironmentSpec(**values)


def write_bootstrap(code_dir: Path, text: str = BOOTSTRAP, mode: int = 0o755) -> None:
    path = code_dir / "bootstrap"
    path.write_text(text)
    path.chmod(mode)


def invoke(
    code_dir: Path,
    payload: bytes = b"{}",
    client_context: dict[str, Any] | None = None,
    **fields: Any,
) -> InvokeResult:
    s = spec(code_dir, **fields)
    env = executor_for(s.runtime).start(s)
    try:
        return env.invoke(
            payload, request_id=RID, invoked_function_arn=ARN, client_context=client_context
        )
    finally:
        env.stop()


def test_the_runtime_api_sends_awss_headers_and_environment(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, b'{"x": 1}', environment={"MINE": "yes"})
    assert result.function_error is None
    got = json.loads(result.payload)
    assert got["event"] == {"x": 1}
    h = got["headers"]
    assert h["Content-Type"] == "application/json"
    assert h["Lambda-Runtime-Aws-Request-Id"] == RID
    assert h["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert h["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    import time

    assert 2000 < int(h["Lambda-Runtime-Deadline-Ms"]) - time.time() * 1000 <= 3000
    env = got["env"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert (env["AWS_LAMBDA_FUNCTION_NAME"], env["AWS_LAMBDA_FUNCTION_VERSION"]) == ("hello", "2")
    assert (env["_HANDLER"], env["MINE"], env["AWS_REGION"]) == ("my.handler", "yes", "us-east-1")
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path.absolute())
    # a response for another request id: 400; an init error after init: 403
    assert got["wrong_id"] == [400, {"errorMessage": "Invalid request ID",
                                     "errorType": "InvalidRequestID"}]  # fmt: skip
    assert got["late_init_error"][0] == 403
    assert "Lambda-Runtime-Client-Context" not in h  # none given: no header, as in AWS
    lines = result.log.splitlines()
    assert lines[:3] == ["init my.handler", f"START RequestId: {RID} Version: 2",
                         f"handling {RID}"]  # fmt: skip
    assert lines[-2] == f"END RequestId: {RID}" and "Init Duration" in lines[-1]


def test_the_client_context_is_a_json_header_of_next(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    given = {"custom": {"name": "caf\u00e9", "n": [1, None]}, "env": {"a": "b"}}
    result = invoke(tmp_path, client_context=given)
    header = json.loads(result.payload)["headers"]["Lambda-Runtime-Client-Context"]
    assert json.loads(header) == given
    assert header.isascii() and "\n" not in header


def test_an_error_post_is_a_function_error(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, b'{"fail": true}')
    assert (result.function_error, result.error_type) == ("Unhandled", "MyError")
    assert json.loads(result.payload) == {
        "errorMessage": "bad",
        "errorType": "MyError",
        "stackTrace": [],
    }


def test_a_response_too_large_is_refused(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, b'{"big": true}')
    assert result.error_type == "Function.ResponseSizeTooLarge"


def test_init_error(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, environment={"INIT": "error"})
    assert (result.function_error, result.error_type) == ("Unhandled", "Init.Bad")
    assert json.loads(result.payload) == {"errorMessage": "no config", "errorType": "Init.Bad"}


@pytest.mark.parametrize(
    ("payload", "environment", "reason"),
    [
        (b"{}", {"INIT": "exit"}, "Runtime exited with error: exit status 2"),
        (b'{"exit": 3}', {}, "Runtime exited with error: exit status 3"),
    ],
)
def test_a_bootstrap_that_exits_is_a_runtime_exit_error(
    tmp_path: Path, payload: bytes, environment: dict[str, str], reason: str
) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, payload, environment=environment)
    assert json.loads(result.payload) == {
        "errorMessage": f"RequestId: {RID} Error: {reason}",
        "errorType": "Runtime.ExitError",
    }


def test_a_timeout_kills_the_bootstrap(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    result = invoke(tmp_path, b'{"sleep": 5}', timeout=1)
    assert result.error_type == "Sandbox.Timedout"
    assert json.loads(result.payload)["errorMessage"] == (
        f"RequestId: {RID} Error: Task timed out after 1.00 seconds"
    )


@pytest.mark.parametrize(("mode", "words"), [(None, "Couldn't find valid bootstrap(s)"),
                                             (0o644, "permission denied")])  # fmt: skip
def test_a_missing_or_non_executable_bootstrap_is_invalid_entrypoint(
    tmp_path: Path, mode: int | None, words: str
) -> None:
    if mode is not None:
        write_bootstrap(tmp_path, mode=mode)
    result = invoke(tmp_path)
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert error["errorMessage"].startswith(f"RequestId: {RID} Error: ")
    assert words in error["errorMessage"]


def test_a_warm_environment_serves_invocations_in_turn(tmp_path: Path) -> None:
    write_bootstrap(tmp_path)
    make = warm_environment_for("provided.al2")
    assert make is not None
    env = make(spec(tmp_path))
    try:
        results = [
            env.invoke(b"{}", request_id=f"r{i}", invoked_function_arn=ARN) for i in range(3)
        ]
    finally:
        env.stop()
    assert [json.loads(r.payload)["count"] for r in results] == [1, 2, 3]
    assert results[0].init_duration_ms is not None and results[1].init_duration_ms is None
    assert "init my.handler" in results[0].log and "init" not in results[2].log
    assert "handling r2" in results[2].log


def test_init_and_invoke_a_starter_bootstrap_through_the_cli(tmp_path: Path) -> None:
    import shutil

    r = run_cli("-C", str(tmp_path), "init", "--runtime", "provided.al2023")
    assert r.exit_code == 0
    assert os.access(tmp_path / "bootstrap", os.X_OK) and not list(tmp_path.glob("*.py"))
    if shutil.which("curl") is None:
        pytest.skip("the starter bootstrap uses curl, which is not installed")
    assert run_cli("-C", str(tmp_path), "publish").exit_code == 0
    r = run_cli("-C", str(tmp_path), "invoke", "--qualifier", "1", "--payload", '{"a": 1}', "-")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout.partition("\n")[0].rpartition("}")[0] + "}") == {
        "message": "Hello from a custom runtime",
        "event": {"a": 1},
    }


@pytest.mark.skipif(
    importlib.util.find_spec("awslambdaric") is None,
    reason="awslambdaric (AWS's Python runtime interface client) is not installed",
)
def test_awss_python_runtime_interface_client_works_unchanged(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """\
            def handler(event, context):
                print("in handler", context.aws_request_id)
                if event.get("fail"):
                    raise ValueError("nope")
                cc = context.client_context
                return {"fn": context.function_name, "arn": context.invoked_function_arn,
                        "left": 0 < context.get_remaining_time_in_millis() <= 3000,
                        "cc": repr(cc),
                        "custom": cc and cc.custom, "title": cc and cc.client.app_title}
            """
        )
    )
    write_bootstrap(tmp_path, f"#!/bin/sh\nexec {sys.executable} -m awslambdaric app.handler\n")
    s = spec(tmp_path, handler="app.handler")
    env = executor_for(s.runtime).start(s)
    given = {"client": {"app_title": "Shop"}, "custom": {"cart": [1]}, "env": None}
    try:
        ok = env.invoke(b"{}", request_id=RID, invoked_function_arn=ARN, client_context=given)
        failed = env.invoke(b'{"fail": 1}', request_id="r2", invoked_function_arn=ARN)
        without = env.invoke(b"{}", request_id="r3", invoked_function_arn=ARN)
    finally:
        env.stop()
    assert json.loads(ok.payload) == {
        "fn": "hello",
        "arn": ARN,
        "left": True,
        "cc": "ClientContext([custom={'cart': [1]},env=None,client=Client([installation_id="
        "None,app_title=Shop,app_version_name=None,app_version_code=None,"
        "app_package_name=None])])",
        "custom": {"cart": [1]},
        "title": "Shop",
    }
    assert json.loads(without.payload)["cc"] == "None"
    assert f"in handler {RID}" in ok.log
    error = json.loads(failed.payload)
    assert (failed.error_type, error["errorType"], error["errorMessage"]) == (
        "ValueError",
        "ValueError",
        "nope",
    )
    assert error["requestId"] == "r2"
