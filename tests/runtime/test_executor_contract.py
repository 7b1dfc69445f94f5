"""The executor interface: one contract that the fake and the Python executor both keep.

Every test runs against each executor: a handler is "deployed" from its source (written
into the code directory; the fake also gets the function it defines), an environment is
started for it, invoked and stopped.  A new executor joins by adding itself to EXECUTORS
below (with a way to deploy a handler).
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdaver.runtime import (
    DEFAULT_FAMILY,
    EXECUTORS,
    Environment,
    EnvironmentSpec,
    Executor,
    InvokeResult,
    executor_for,
    interpreter,
    register,
    runtime_family,
)
from lambdaver.runtime.fake import FakeExecutor

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"

Deploy = Callable[[str], tuple[Executor, EnvironmentSpec]]


@pytest.fixture(params=["fake", "python"])
def deploy(request: pytest.FixtureRequest, tmp_path: Path) -> Deploy:
    """``deploy(source, **spec fields)``: an executor and the spec of ``app.handler``."""

    def make(source: str, **overrides: Any) -> tuple[Executor, EnvironmentSpec]:
        source = textwrap.dedent(source)
        code_dir = tmp_path / "code"
        code_dir.mkdir(exist_ok=True)
        (code_dir / "app.py").write_text(source)
        fields: dict[str, Any] = {
            "code_dir": code_dir,
            "handler": "app.handler",
            "runtime": interpreter.CURRENT_RUNTIME,
            "environment": {},
            "function_name": "hello",
            "function_version": "4",
            "memory_size": 128,
            "timeout": 3,
            "region": "us-east-1",
        }
        fields.update(overrides)
        if request.param == "python":
            return executor_for(interpreter.CURRENT_RUNTIME), EnvironmentSpec(**fields)
        namespace: dict[str, Any] = {}
        exec(compile(source, str(code_dir / "app.py"), "exec"), namespace)  # noqa: S102
        fake = FakeExecutor({"app.handler": namespace["handler"]} if "handler" in namespace else {})
        return fake, EnvironmentSpec(**fields)

    return make


def call(
    environment: Environment,
    payload: bytes = b"{}",
    arn: str = ARN,
    client_context: dict[str, Any] | None = None,
) -> InvokeResult:
    return environment.invoke(
        payload,
        request_id=str(uuid.uuid4()),
        invoked_function_arn=arn,
        client_context=client_context,
    )


def request_id_of(result: InvokeResult) -> str:
    return result.log.split("START RequestId: ", 1)[1].split(" ", 1)[0]


def test_start_invoke_stop(deploy: Deploy) -> None:
    executor, spec = deploy(
        """
        def handler(event, context):
            return {"event": event, "version": context.function_version,
                    "arn": context.invoked_function_arn, "rid": context.aws_request_id}
        """
    )
    environment = executor.start(spec, warn=pytest.fail)
    try:
        result = call(environment, b'{"k": [1, 2]}', arn=ARN + ":live")
    finally:
        environment.stop()
    assert result.function_error is None and result.error_type is None, result.log
    rid = request_id_of(result)
    assert json.loads(result.payload) == {
        "event": {"k": [1, 2]},
        "version": "4",
        "arn": ARN + ":live",
        "rid": rid,
    }
    assert f"START RequestId: {rid} Version: 4\n" in result.log
    assert f"\nEND RequestId: {rid}\nREPORT RequestId: {rid}\tDuration: " in result.log
    assert result.log.endswith("\n")
    assert result.duration_ms >= 0 and result.billed_duration_ms >= 1
    assert result.max_memory_used_mb >= 1


def test_an_environment_serves_invocations_one_after_another(deploy: Deploy) -> None:
    executor, spec = deploy("def handler(event, context):\n    return event['n'] * 2\n")
    environment = executor.start(spec, warn=pytest.fail)
    try:
        results = [call(environment, json.dumps({"n": n}).encode()) for n in (1, 2, 3)]
    finally:
        environment.stop()
    assert [json.loads(r.payload) for r in results] == [2, 4, 6]
    assert len({request_id_of(r) for r in results}) == 3


def test_empty_payload_is_an_empty_event(deploy: Deploy) -> None:
    executor, spec = deploy("def handler(event, context):\n    return event\n")
    environment = executor.start(spec, warn=pytest.fail)
    try:
        assert json.loads(call(environment, b"").payload) == {}
    finally:
        environment.stop()


def test_a_raising_handler_is_a_function_error(deploy: Deploy) -> None:
    executor, spec = deploy("def handler(event, context):\n    raise ValueError('bad input')\n")
    environment = executor.start(spec, warn=pytest.fail)
    try:
        result = call(environment)
    finally:
        environment.stop()
    assert (result.function_error, result.error_type) == ("Unhandled", "ValueError")
    error = json.loads(result.payload)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
    assert error["requestId"] == request_id_of(result)
    assert "stackTrace" in error


def test_a_missing_handler_is_a_runtime_fault(deploy: Deploy) -> None:
    executor, spec = deploy("X = 1\n", handler="app.nowhere")
    environment = executor.start(spec, warn=pytest.fail)
    try:
        result = call(environment)
    finally:
        environment.stop()
    assert (result.function_error, result.error_type) == ("Unhandled", "Runtime.HandlerNotFound")
    assert json.loads(result.payload)["errorMessage"] == "Handler 'nowhere' missing on module 'app'"


def test_a_handler_past_its_timeout_is_timed_out(deploy: Deploy) -> None:
    executor, spec = deploy(
        "import time\ndef handler(event, context):\n    time.sleep(1.3)\n", timeout=1
    )
    environment = executor.start(spec, warn=pytest.fail)
    try:
        result = call(environment)
    finally:
        environment.stop()
    rid = request_id_of(result)
    assert (result.function_error, result.error_type) == ("Unhandled", "Sandbox.Timedout")
    assert json.loads(result.payload) == {
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert result.duration_ms == 1000.0
    assert f"Z {rid} Task timed out after 1.00 seconds\nEND RequestId: {rid}\n" in result.log


#: A handler that shows the client context as awslambdaric's context object has it.
SHOW_CLIENT_CONTEXT = """
def handler(event, context):
    cc = context.client_context
    if cc is None:
        return None
    client = cc.client
    fields = ("installation_id", "app_title", "app_version_name", "app_version_code",
              "app_package_name")
    return {"repr": repr(cc), "custom": cc.custom, "env": cc.env,
            "client": None if client is None else {f: getattr(client, f) for f in fields}}
"""


def test_the_client_context_reaches_the_handler_as_awslambdarics_object(deploy: Deploy) -> None:
    executor, spec = deploy(SHOW_CLIENT_CONTEXT)
    given = {
        "client": {"installation_id": "i-1", "app_title": "Shop", "app_version_code": "7"},
        "custom": {"cart": [1, 2]},
        "env": {"platform": "Android", "locale": "fr_FR"},
        "extra": "not an attribute",
        "w3c": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }
    environment = executor.start(spec, warn=pytest.fail)
    try:
        full = json.loads(call(environment, client_context=given).payload)
        empty = json.loads(call(environment, client_context={"custom": {"a": 1}}).payload)
        none = json.loads(call(environment).payload)
    finally:
        environment.stop()
    assert full == {
        "repr": "ClientContext([custom={'cart': [1, 2]},env={'platform': 'Android', "
        "'locale': 'fr_FR'},client=Client([installation_id=i-1,app_title=Shop,"
        "app_version_name=None,app_version_code=7,app_package_name=None])])",
        "custom": {"cart": [1, 2]},
        "env": {"platform": "Android", "locale": "fr_FR"},
        "client": {"installation_id": "i-1", "app_title": "Shop", "app_version_name": None,
                   "app_version_code": "7", "app_package_name": None},
    }  # fmt: skip
    assert empty == {
        "repr": "ClientContext([custom={'a': 1},env=None,client=None])",
        "custom": {"a": 1},
        "env": None,
        "client": None,
    }
    assert none is None  # not given: None, in the same environment right after one
    assert "w3c" in given  # awslambdaric takes it out of its own copy, not the caller's


def test_stop_can_be_called_twice(deploy: Deploy) -> None:
    executor, spec = deploy("def handler(event, context):\n    return 1\n")
    environment = executor.start(spec, warn=pytest.fail)
    assert json.loads(call(environment).payload) == 1
    environment.stop()
    environment.stop()


# --- the registry -------------------------------------------------------------------------


def test_runtime_families() -> None:
    assert runtime_family("python3.12") == "python"
    assert runtime_family("nodejs20.x") == "nodejs"
    assert runtime_family("provided.al2023") == "provided"
    assert runtime_family("java") == "java"


def test_python_node_and_provided_are_registered_and_python_runs_the_rest() -> None:
    python = executor_for("python3.12")
    assert type(python).__name__ == "PythonExecutor"
    assert set(EXECUTORS) == {"python", "nodejs", "provided"} and DEFAULT_FAMILY == "python"
    assert type(executor_for("nodejs20.x")).__name__ == "NodeExecutor"
    assert type(executor_for("provided.al2023")).__name__ == "ProvidedExecutor"
    for runtime in ("python3.8", "java21", "weird"):
        assert executor_for(runtime) is python


def test_a_registered_executor_wins_by_name_then_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lambdaver.runtime.EXECUTORS", dict(EXECUTORS))
    family, exact = FakeExecutor(), FakeExecutor()
    register("nodejs", family)
    register("nodejs22.x", exact)
    assert executor_for("nodejs20.x") is family
    assert executor_for("nodejs22.x") is exact
    assert type(executor_for("python3.12")).__name__ == "PythonExecutor"
    register("dotnet", "lambdaver.runtime.invoke:PYTHON")  # "module:attribute"
    assert executor_for("dotnet8") is executor_for("python3.12")


def test_a_runtime_without_its_executor_runs_as_python_after_a_warning(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'ran'\n")
    spec = EnvironmentSpec(
        code_dir=tmp_path,
        handler="app.handler",
        runtime="java21",
        environment={},
        function_name="hello",
        function_version="$LATEST",
        memory_size=128,
        timeout=3,
        region="us-east-1",
    )
    warnings: list[str] = []
    environment = executor_for("java21").start(spec, warn=warnings.append)
    try:
        assert json.loads(call(environment).payload) == "ran"
    finally:
        environment.stop()
    assert warnings == [
        "runtime 'java21' is not a Python runtime lambdaver can run; running the handler "
        f"with {interpreter.CURRENT_RUNTIME} ({sys.executable})"
    ]
