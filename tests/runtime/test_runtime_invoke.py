"""The Python executor: real handlers written into tmp_path, run in real processes."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from lambdaver.runtime import (
    EnvironmentSpec,
    InvokeResult,
    Warn,
    executor_for,
    interpreter,
    log_tail_base64,
    peak_memory_mb,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"


def write_code(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


#: The fields of a call that belong to the invocation, not to the environment.
REQUEST_FIELDS = ("payload", "request_id", "invoked_function_arn", "client_context")


def make_spec(code_dir: Path, **overrides: Any) -> tuple[EnvironmentSpec, dict[str, Any]]:
    """The environment spec and the invocation's arguments."""
    fields: dict[str, Any] = {
        "code_dir": code_dir,
        "handler": "app.handler",
        "runtime": interpreter.CURRENT_RUNTIME,
        "environment": {},
        "function_name": "hello",
        "function_version": "$LATEST",
        "invoked_function_arn": ARN,
        "memory_size": 128,
        "timeout": 3,
        "region": "us-east-1",
        "payload": b'{"name": "world"}',
        "request_id": str(uuid.uuid4()),
        "client_context": None,
    }
    fields.update(overrides)
    request = {name: fields.pop(name) for name in REQUEST_FIELDS}
    return EnvironmentSpec(**fields), request


def run(call: tuple[EnvironmentSpec, dict[str, Any]], warn: Warn) -> InvokeResult:
    """One cold invocation: start an environment, invoke it once, stop it."""
    spec, request = call
    environment = executor_for(spec.runtime).start(spec, warn)
    try:
        payload = request.pop("payload")
        return environment.invoke(payload, **request)
    finally:
        environment.stop()


def invoke(tmp_path: Path, source: str, **overrides: Any) -> InvokeResult:
    """Run ``app.handler`` defined by ``source``."""
    code = write_code(tmp_path / "code", {"app.py": source})
    return run(make_spec(code, **overrides), warn=pytest.fail)


def returned(result: InvokeResult) -> Any:
    assert result.function_error is None, result.log
    return json.loads(result.payload)


def error_of(result: InvokeResult) -> dict[str, Any]:
    assert result.function_error == "Unhandled", result.log
    error: dict[str, Any] = json.loads(result.payload)
    assert result.error_type == error["errorType"]
    return error


def is_alive(pid: int) -> bool:
    """Running, not merely a zombie nobody has reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture
def spawn_path() -> Iterator[None]:
    """A second thread makes the executor spawn sys.executable instead of forking."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    yield
    stop.set()
    thread.join()


# --- success --------------------------------------------------------------------------------


def test_success_returns_the_json_result_and_an_aws_shaped_log(tmp_path: Path) -> None:
    spec_id = str(uuid.uuid4())
    result = invoke(
        tmp_path,
        """
        def handler(event, context):
            return {"hello": event["name"], "n": [1, 2.5, None, True]}
        """,
        request_id=spec_id,
    )
    assert result.payload == b'{"hello": "world", "n": [1, 2.5, null, true]}'
    assert (result.function_error, result.error_type) == (None, None)
    lines = result.log.splitlines()
    assert lines[0] == f"START RequestId: {spec_id} Version: $LATEST"
    assert lines[1] == f"END RequestId: {spec_id}"
    report = lines[2].split("\t")
    assert report[0] == f"REPORT RequestId: {spec_id}"
    assert report[1] == f"Duration: {result.duration_ms:.2f} ms"
    assert report[2] == f"Billed Duration: {result.billed_duration_ms} ms"
    assert report[3:5] == [
        "Memory Size: 128 MB",
        f"Max Memory Used: {result.max_memory_used_mb} MB",
    ]
    assert result.init_duration_ms is not None
    assert report[5:] == [f"Init Duration: {result.init_duration_ms:.2f} ms", ""]
    assert len(lines) == 3
    assert result.billed_duration_ms >= max(1, result.duration_ms)
    # The function's process is a fork of this one: its resident pages start as this
    # process's (pytest's, which outgrows 128 MB in a full run; the CLI's is ~20 MB).
    assert 1 <= result.max_memory_used_mb <= peak_memory_mb(os.getpid()) + 32
    assert result.interpreter == sys.executable


def test_output_and_logging_go_to_the_log_never_the_payload(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        """
        import logging, sys
        print("at import")
        logging.warning("warned at import")

        def handler(event, context):
            print("printed")
            print("to stderr", file=sys.stderr)
            logging.info("not shown: the root level is WARNING, as in AWS")
            logging.getLogger().setLevel(logging.INFO)
            logging.info("info %s", 42)
            context.log("via context.log\\n")
            sys.stdout.write("no newline at the end")
            return "ok"
        """,
    )
    assert result.payload == b'"ok"'
    rid = make_rid_pattern(result)
    lines = result.log.splitlines()
    assert lines[0] == "at import"
    assert lines[1].startswith("[WARNING]\t") and lines[1].endswith("\t\twarned at import")
    assert lines[2].startswith("START RequestId: ")
    assert lines[3:6] == ["printed", "to stderr", lines[5]]
    level, timestamp, request_id, message = lines[5].split("\t")
    assert (level, request_id, message) == ("[INFO]", rid, "info 42")
    assert len(timestamp) == 24 and timestamp[10] == "T" and timestamp.endswith("Z")
    assert lines[6:9] == ["via context.log", "no newline at the end", f"END RequestId: {rid}"]
    assert "not shown" not in result.log


def make_rid_pattern(result: InvokeResult) -> str:
    return result.log.split("START RequestId: ", 1)[1].split(" ", 1)[0]


def test_environment_and_context_are_lambdas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDAVER_TEST_PARENT_ONLY", "must not leak")
    result = invoke(
        tmp_path,
        """
        import os, sys

        def handler(event, context):
            return {
                "env": dict(os.environ),
                "cwd": os.getcwd(),
                "path0": sys.path[0],
                "context": {
                    name: getattr(context, name)
                    for name in ("function_name", "function_version", "invoked_function_arn",
                                 "memory_limit_in_mb", "aws_request_id", "log_group_name",
                                 "log_stream_name", "client_context")
                },
                "identity": [context.identity.cognito_identity_id,
                             context.identity.cognito_identity_pool_id],
                "remaining": [context.get_remaining_time_in_millis(), 7],
            }
        """,
        function_version="3",
        invoked_function_arn=ARN + ":live",
        memory_size=256,
        timeout=5,
        region="eu-west-1",
        environment={"STAGE": "prod", "LANG": "C"},
        log_stream_name="2024/01/01/[3]0123456789abcdef0123456789abcdef",
    )
    body = returned(result)
    code_dir = str(tmp_path / "code")
    env = body["env"]
    assert {k: v for k, v in env.items() if k.startswith(("AWS_", "LAMBDA_", "_"))} == {
        "_HANDLER": "app.handler",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{interpreter.CURRENT_RUNTIME}",
        "AWS_LAMBDA_FUNCTION_NAME": "hello",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "3",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/hello",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[3]0123456789abcdef0123456789abcdef",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LAMBDA_TASK_ROOT": code_dir,
        "LAMBDA_RUNTIME_DIR": env["PYTHONPATH"],
    }
    assert env["STAGE"] == "prod"
    assert env["LANG"] == "C"  # the function's own variables win over the overridable ones
    assert env["TZ"] == ":UTC"
    assert env["PATH"] == os.environ["PATH"]
    assert "LAMBDAVER_TEST_PARENT_ONLY" not in env
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT" not in env
    assert body["cwd"] == code_dir
    assert body["path0"] == code_dir
    assert body["context"] == {
        "function_name": "hello",
        "function_version": "3",
        "invoked_function_arn": ARN + ":live",
        "memory_limit_in_mb": "256",
        "aws_request_id": make_rid_pattern(result),
        "log_group_name": "/aws/lambda/hello",
        "log_stream_name": "2024/01/01/[3]0123456789abcdef0123456789abcdef",
        "client_context": None,
    }
    assert body["identity"] == [None, None]
    remaining = body["remaining"][0]
    assert isinstance(remaining, int) and 4000 < remaining <= 5000
    assert result.log.startswith(f"START RequestId: {make_rid_pattern(result)} Version: 3\n")


def test_default_log_stream_name_is_aws_shaped(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        """
        import os
        def handler(event, context):
            return os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        """,
        function_version="7",
    )
    name = returned(result)
    date, rest = name[:10], name[10:]
    assert date.count("/") == 2 and rest.startswith("/[7]") and len(rest) == 4 + 32
    assert result.log_stream_name == name


def test_empty_payload_is_an_empty_object(tmp_path: Path) -> None:
    source = "def handler(event, context):\n    return event\n"
    assert invoke(tmp_path, source, payload=b"").payload == b"{}"
    assert invoke(tmp_path, source, payload=b"null").payload == b"null"


def test_bytes_results_pass_through_raw_and_none_is_null(tmp_path: Path) -> None:
    assert invoke(tmp_path, "def handler(e, c):\n    return b'\\x00raw'\n").payload == b"\x00raw"
    assert invoke(tmp_path, "def handler(e, c):\n    pass\n").payload == b"null"


def test_unicode_is_escaped_before_python312_and_raw_from_it(tmp_path: Path) -> None:
    source = "def handler(e, c):\n    return {'s': 'caf\\u00e9'}\n"
    assert invoke(tmp_path, source, runtime="python3.11").payload == b'{"s": "caf\\u00e9"}'
    warnings: list[str] = []
    code = tmp_path / "code"
    result = run(make_spec(code, runtime="python3.12"), warn=warnings.append)
    assert result.payload == '{"s": "café"}'.encode()


def test_decimals_are_marshalled_as_numbers(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        """
        from decimal import Decimal
        def handler(e, c):
            return [Decimal("10"), Decimal("2.5")]
        """,
    )
    assert result.payload == b"[10, 2.5]"


def test_dotted_package_handler(tmp_path: Path) -> None:
    code = write_code(
        tmp_path / "code",
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "def fn(event, context):\n    return __name__\n",
        },
    )
    result = run(make_spec(code, handler="pkg.sub.mod.fn"), warn=pytest.fail)
    assert returned(result) == "pkg.sub.mod"


def test_a_package_vendored_in_the_code_wins_over_the_parents_copy(tmp_path: Path) -> None:
    assert "click" in sys.modules  # imported by this process (the CLI's conftest)
    code = write_code(
        tmp_path / "code",
        {
            "click/__init__.py": "VERSION = 'vendored'\n",
            "app.py": "import click\ndef handler(e, c):\n    return click.VERSION\n",
        },
    )
    assert returned(run(make_spec(code), warn=pytest.fail)) == "vendored"


def test_nothing_is_importable_from_the_callers_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = write_code(tmp_path / "elsewhere", {"stray.py": "X = 1\n"})
    monkeypatch.chdir(elsewhere)
    monkeypatch.syspath_prepend(str(elsewhere))
    result = invoke(
        tmp_path,
        """
        def handler(e, c):
            try:
                import stray
            except ImportError:
                return "not importable"
            return "imported"
        """,
    )
    assert returned(result) == "not importable"


def test_no_bytecode_is_written_into_the_code_directory(tmp_path: Path) -> None:
    code = write_code(
        tmp_path / "code",
        {"helper.py": "X = 1\n", "app.py": "import helper\ndef handler(e, c):\n    return 1\n"},
    )
    returned(run(make_spec(code), warn=pytest.fail))
    assert sorted(p.name for p in code.iterdir()) == ["app.py", "helper.py"]


def test_no_descriptor_or_child_is_left_behind(tmp_path: Path) -> None:
    before = sorted(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else []
    for source in ("def handler(e, c):\n    return 1\n", "import os\nos._exit(1)\n"):
        invoke(tmp_path, source)
    after = sorted(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else []
    assert after == before
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


# --- the spawn path -------------------------------------------------------------------------


@pytest.mark.usefixtures("spawn_path")
def test_a_threaded_caller_spawns_a_fresh_interpreter(tmp_path: Path) -> None:
    payload = json.dumps({"big": "x" * 300_000}).encode()  # more than a pipe buffer
    result = invoke(
        tmp_path,
        """
        import os, sys
        def handler(event, context):
            return {"fresh": "click" not in sys.modules, "size": len(event["big"]),
                    "path0": sys.path[0], "cwd": os.getcwd()}
        """,
        payload=payload,
    )
    code_dir = str(tmp_path / "code")
    assert returned(result) == {"fresh": True, "size": 300_000, "path0": code_dir, "cwd": code_dir}
    assert result.interpreter == sys.executable
    assert result.log.startswith("START RequestId: ")


@pytest.mark.usefixtures("spawn_path")
def test_spawned_failures_have_the_same_shape(tmp_path: Path) -> None:
    error = error_of(invoke(tmp_path, "def handler(e, c):\n    raise KeyError('k')\n"))
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'k'")
    assert error["stackTrace"][0].startswith(f'  File "{tmp_path / "code" / "app.py"}", line 2')


@pytest.mark.usefixtures("spawn_path")
def test_a_spawned_interpreter_gets_the_client_context(tmp_path: Path) -> None:
    given = {"custom": {"k": "caf\u00e9"}, "client": {"app_title": "t"}, "env": {"e": 1}}
    result = invoke(
        tmp_path,
        "def handler(e, c):\n    return repr(c.client_context)\n",
        client_context=given,
    )
    assert result.interpreter == sys.executable
    assert returned(result) == (
        "ClientContext([custom={'k': 'caf\u00e9'},env={'e': 1},client=Client([installation_id="
        "None,app_title=t,app_version_name=None,app_version_code=None,app_package_name=None])])"
    )


def test_the_oldest_python_gets_the_client_context(tmp_path: Path) -> None:
    """bootstrap.py runs on every Python from 3.8: its client context code too."""
    oldest = next(
        (f"python3.{m}" for m in range(8, 11) if interpreter.find_on_path(f"python3.{m}")), None
    )
    if oldest is None:
        pytest.skip("no Python 3.8-3.10 on PATH")
    result = invoke(
        tmp_path,
        "import sys\n"
        "def handler(e, c):\n"
        "    cc = c.client_context\n"
        "    return [sys.version_info[1], cc.custom, cc.client.app_title, c.w3c()]\n",
        runtime=oldest,
        client_context={"custom": {"a": 1}, "client": {"app_title": "t"},
                        "w3c": {"traceparent": "tp", "baggage": 3}},
    )  # fmt: skip
    assert returned(result) == [int(oldest[8:]), {"a": 1}, "t", {"traceparent": "tp"}]


@pytest.mark.skipif(
    importlib.util.find_spec("awslambdaric") is None,
    reason="awslambdaric (AWS's Python runtime interface client) is not installed",
)
@pytest.mark.parametrize(
    "given",
    [
        None,
        {},
        {"custom": {"a": [1, {"b": None}]}, "env": {"locale": "en_GB"}, "other": 1},
        {"client": {"installation_id": "i", "app_title": "t", "app_version_name": "n",
                    "app_version_code": "c", "app_package_name": "p", "more": "x"}},
        {"client": None, "custom": "a string"},
        {"w3c": {"traceparent": "tp", "tracestate": 1, "baggage": "b", "other": "o"}},
        {"w3c": "not an object", "custom": {}},
        {"client": ["not", "an", "object"]},
    ],
)  # fmt: skip
def test_the_context_object_is_awslambdarics(given: dict[str, Any] | None) -> None:
    """The same client context makes the same object (repr, attributes, w3c(), or the
    same error) in bootstrap.py's LambdaContext as in AWS's runtime interface client."""
    import copy

    from awslambdaric import lambda_context as ric

    from lambdaver.runtime.var_runtime import bootstrap

    def made(make: Any) -> Any:
        try:
            context = make(copy.deepcopy(given))
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return (type(e).__name__, str(e))
        cc = context.client_context
        shown = [repr(context)]
        if cc is not None:
            shown += [cc.custom, cc.env, type(cc).__name__, type(cc.client).__name__]
            if cc.client is not None:
                shown += [getattr(cc.client, name) for name in type(cc.client).__slots__]
        if hasattr(ric.LambdaContext, "w3c"):  # awslambdaric 4.2 and later
            shown.append(context.w3c())
        return shown

    theirs = made(lambda cc: ric.LambdaContext("rid", cc, None, 1000, ARN))
    ours = made(lambda cc: bootstrap.LambdaContext("rid", ARN, 1000, cc))
    assert ours == theirs


def test_another_python_on_path_runs_the_handler(tmp_path: Path) -> None:
    others = [
        f"python3.{minor}"
        for minor in range(9, 15)
        if f"python3.{minor}" != interpreter.CURRENT_RUNTIME
        and interpreter.find_on_path(f"python3.{minor}")
    ]
    if not others:
        pytest.skip("no other Python 3.9+ on PATH")
    result = invoke(
        tmp_path,
        "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n",
        runtime=others[0],
    )
    assert returned(result) == [3, int(others[0].split(".")[1])]
    assert result.interpreter != sys.executable


def test_a_broken_interpreter_falls_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "python3.98"
    broken.write_text("#!/bin/sh\necho 'python3.98: version not installed' >&2\nexit 127\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code = write_code(tmp_path / "code", {"app.py": "def handler(e, c):\n    return 'ran'\n"})
    warnings: list[str] = []
    result = run(make_spec(code, runtime="python3.98"), warn=warnings.append)
    assert returned(result) == "ran"
    assert result.interpreter == sys.executable
    assert warnings == [
        f"python3.98 at {broken} did not start (python3.98: version not installed); "
        f"running the handler with {interpreter.CURRENT_RUNTIME} ({sys.executable})"
    ]
    assert "version not installed" not in result.log


def test_a_missing_interpreter_runs_here_with_a_warning(tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"app.py": "def handler(e, c):\n    return 'ran'\n"})
    warnings: list[str] = []
    result = run(make_spec(code, runtime="python3.99"), warn=warnings.append)
    assert returned(result) == "ran"
    assert warnings == [
        "python3.99 was not found on PATH; running the handler with "
        f"{interpreter.CURRENT_RUNTIME} ({sys.executable})"
    ]


def test_pyenv_shims_resolve_to_the_installed_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pyenv"
    (root / "shims").mkdir(parents=True)
    shim = root / "shims" / "python3.97"
    shim.write_text(f'#!/usr/bin/env bash\nexport PYENV_ROOT="{root}"\nexec pyenv exec "$@"\n')
    shim.chmod(0o755)
    for version in ("3.97.1", "3.97.10", "3.96.5"):
        binary = root / "versions" / version / "bin" / f"python{version.rsplit('.', 1)[0]}"
        binary.parent.mkdir(parents=True)
        binary.symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(root / "shims"))
    assert interpreter.find_on_path("python3.97") == str(
        root / "versions" / "3.97.10" / "bin" / "python3.97"
    )
    assert interpreter.find_on_path("python3.95") is None
    shim.rename(root / "shims" / "python3.95")  # a shim for a version that is not installed
    assert interpreter.find_on_path("python3.95") is None


def test_runtime_names_parse() -> None:
    assert interpreter.parse_runtime("python3.12") == (3, 12)
    for name in ("python3", "python3.12.1", "nodejs20.x", "pythonX.Y", "python.12"):
        assert interpreter.parse_runtime(name) is None


# --- function errors ------------------------------------------------------------------------


def test_a_raising_handler_gets_awss_error_object_and_error_log(tmp_path: Path) -> None:
    rid = str(uuid.uuid4())
    result = invoke(
        tmp_path,
        """
        def helper(x):
            raise ValueError(f"bad value {x}")

        def handler(event, context):
            return helper(42)
        """,
        request_id=rid,
    )
    error = error_of(result)
    app = tmp_path / "code" / "app.py"
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error == {
        "errorMessage": "bad value 42",
        "errorType": "ValueError",
        "requestId": rid,
        "stackTrace": [
            f'  File "{app}", line 6, in handler\n    return helper(42)\n',
            f'  File "{app}", line 3, in helper\n    raise ValueError(f"bad value {{x}}")\n',
        ],
    }
    assert (
        "[ERROR] ValueError: bad value 42\n"
        "Traceback (most recent call last):\n"
        f'  File "{app}", line 6, in handler\n'
        "    return helper(42)\n"
        f'  File "{app}", line 3, in helper\n'
        '    raise ValueError(f"bad value {x}")\n'
        f"END RequestId: {rid}\n"
    ) in result.log


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message", "trace"),
    [
        pytest.param(
            {},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
            [],
            id="no-module",
        ),
        pytest.param(
            {"app.py": "import not_installed_dependency\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_installed_dependency'",
            [],
            id="missing-dependency",
        ),
        pytest.param(
            {"app.py": "def other(e, c):\n    pass\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
            [],
            id="no-handler",
        ),
        pytest.param(
            {"app.py": "def handler(e, c:\n    pass\n"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app': '(' was never closed (app.py, line 1)",
            ['  File "{code}/app.py" Line 1\n    def handler(e, c:\n'],
            id="syntax-error",
        ),
        pytest.param(
            {"app.py": ""},
            "app",
            "Runtime.MalformedHandlerName",
            "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
            [],
            id="malformed-handler",
        ),
        pytest.param(
            {},
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
            [],
            id="builtin-module",
        ),
    ],
)
def test_init_faults_have_awss_types_and_messages(
    tmp_path: Path,
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str,
    trace: list[str],
) -> None:
    code = write_code(tmp_path / "code", files)
    code.mkdir(exist_ok=True)
    result = run(make_spec(code, handler=handler), warn=pytest.fail)
    error = error_of(result)
    expected_trace = [line.format(code=code) for line in trace]
    assert error == {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",  # raised while importing, before there is a request
        "stackTrace": expected_trace,
    }
    assert f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):\n" in result.log
    assert result.log.startswith("START RequestId: ")
    assert result.init_duration_ms is None  # init did not complete


def test_an_exception_while_importing_is_reported_with_its_own_type(tmp_path: Path) -> None:
    result = invoke(tmp_path, "raise RuntimeError('config missing')\n")
    error = error_of(result)
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "config missing"
    assert error["requestId"] == ""
    assert error["stackTrace"][-1].startswith(f'  File "{tmp_path / "code" / "app.py"}", line 1')


def test_an_unserialisable_result_is_a_marshal_error(tmp_path: Path) -> None:
    rid = str(uuid.uuid4())
    result = invoke(tmp_path, "def handler(e, c):\n    return {1, 2}\n", request_id=rid)
    assert error_of(result) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": rid,
        "stackTrace": [],
    }


def test_a_response_over_6_mb_is_refused(tmp_path: Path) -> None:
    result = invoke(tmp_path, "def handler(e, c):\n    return 'x' * 6_300_000\n")
    assert error_of(result) == {
        "errorMessage": (
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        ),
        "errorType": "Function.ResponseSizeTooLarge",
    }
    big_but_allowed = invoke(tmp_path, "def handler(e, c):\n    return 'x' * 6_000_000\n")
    assert len(big_but_allowed.payload) == 6_000_002


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("import os\n    os._exit(3)", "Runtime exited with error: exit status 3"),
        ("import sys\n    sys.exit()", "Runtime exited without providing a reason"),
        ("import sys\n    sys.exit(2)", "Runtime exited with error: exit status 2"),
        (
            "import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)",
            "Runtime exited with error: signal: killed",
        ),
    ],
)
def test_a_process_that_exits_is_an_exit_error(tmp_path: Path, body: str, reason: str) -> None:
    rid = str(uuid.uuid4())
    result = invoke(tmp_path, f"def handler(e, c):\n    print('bye')\n    {body}\n", request_id=rid)
    message = f"RequestId: {rid} Error: {reason}"
    assert error_of(result) == {"errorMessage": message, "errorType": "Runtime.ExitError"}
    assert f"bye\n{message}\nRuntime.ExitError\nEND RequestId: {rid}\nREPORT" in result.log


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="memory limit needs /proc")
def test_running_out_of_memory(tmp_path: Path) -> None:
    rid = str(uuid.uuid4())
    result = invoke(
        tmp_path, "def handler(e, c):\n    return len(bytearray(64 << 30))\n", request_id=rid
    )
    assert error_of(result) == {
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
        "errorType": "Runtime.OutOfMemory",
    }


def test_threads_and_moderate_memory_are_not_mistaken_for_running_out(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        """
        import threading

        def handler(event, context):
            done = threading.Event()
            threads = [threading.Thread(target=done.wait) for _ in range(64)]
            for t in threads:
                t.start()
            block = bytearray(100 << 20)
            done.set()
            for t in threads:
                t.join()
            return len(block)
        """,
    )
    assert returned(result) == 100 << 20


# --- timeouts and interruption --------------------------------------------------------------


def test_a_slow_handler_is_killed_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    rid = str(uuid.uuid4())
    result = invoke(
        tmp_path,
        """
        import os, subprocess, sys, time

        def handler(event, context):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            with open(os.environ["PID_FILE"], "w") as f:
                f.write(str(child.pid))
            print("sleeping")
            time.sleep(60)
        """,
        timeout=2,  # time enough to start the child on a loaded machine
        request_id=rid,
        environment={"PID_FILE": str(pid_file)},
    )
    message = f"RequestId: {rid} Error: Task timed out after 2.00 seconds"
    assert error_of(result) == {"errorMessage": message, "errorType": "Sandbox.Timedout"}
    assert "sleeping\n" in result.log
    timeout_line = result.log.split("sleeping\n", 1)[1].splitlines()[0]
    assert timeout_line.endswith(f"Z {rid} Task timed out after 2.00 seconds")
    assert (result.duration_ms, result.billed_duration_ms) == (2000.0, 2000)
    # SIGKILL reaches the grandchild when it is next scheduled: on a loaded machine, a
    # moment after the process group was signalled
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while is_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_alive(grandchild)


def test_a_daemon_that_left_the_process_group_does_not_hold_up_the_result(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "daemon.pid"
    started = time.monotonic()
    result = invoke(
        tmp_path,
        """
        import os, subprocess, sys

        def handler(event, context):
            daemon = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
            )
            with open(os.environ["PID_FILE"], "w") as f:
                f.write(str(daemon.pid))
            return "done"
        """,
        environment={"PID_FILE": str(pid_file)},
    )
    try:
        assert returned(result) == "done"
        assert time.monotonic() - started < 3
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_import_time_does_not_count_against_the_timeout(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        """
        import time
        time.sleep(1.2)

        def handler(event, context):
            return context.get_remaining_time_in_millis()
        """,
        timeout=1,
    )
    assert 900 < returned(result) <= 1000
    assert result.init_duration_ms is not None and result.init_duration_ms >= 1200


def test_ctrl_c_kills_the_function_and_propagates(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            invoke(
                tmp_path,
                """
                import os, time
                def handler(e, c):
                    with open(os.environ["PID_FILE"], "w") as f:
                        f.write(str(os.getpid()))
                    time.sleep(30)
                """,
                timeout=30,
                environment={"PID_FILE": str(pid_file)},
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not is_alive(int(pid_file.read_text()))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


# --- LogResult ------------------------------------------------------------------------------


def test_log_tail_is_the_last_4096_bytes_in_base64(tmp_path: Path) -> None:
    result = invoke(
        tmp_path,
        "def handler(e, c):\n    for i in range(500):\n        print(f'line {i:04d} é')\n",
    )
    assert len(result.log.encode()) > 4096
    tail = base64.b64decode(log_tail_base64(result.log))
    assert len(tail) == 4096
    assert tail == result.log.encode()[-4096:]
    assert tail.decode("utf-8", "replace").rstrip("\n").splitlines()[-1].startswith("REPORT")
    assert base64.b64decode(log_tail_base64("short")) == b"short"
