"""The Node.js executor: handler forms, the context object, logs, AWS's Node error
payloads, timeouts, the environment, warm environments; and init's Node detection."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lambdaver.runtime import EnvironmentSpec, InvokeResult, executor_for, warm_environment_for
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js ('node') is not installed on this machine"
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello:live"
RID = "11111111-2222-3333-4444-555555555555"


def spec(code_dir: Path, handler: str = "index.handler", **fields: Any) -> EnvironmentSpec:
    values: dict[str, Any] = {
        "code_dir": code_dir,
        "handler": handler,
        "runtime": "nodejs20.x",
        "environment": {},
        "function_name": "hello",
        "function_version": "4",
        "memory_size": 256,
        "timeout": 3,
        "region": "eu-west-1",
    }
    values.update(fields)
    return EnvironmentSpec(**values)


def invoke(
    tmp_path: Path, files: dict[str, str], payload: bytes = b"{}", **fields: Any
) -> InvokeResult:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    warnings: list[str] = []
    s = spec(tmp_path, **fields)
    env = executor_for(s.runtime).start(s, warnings.append)
    try:
        return env.invoke(payload, request_id=RID, invoked_function_arn=ARN)
    finally:
        env.stop()


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


# --- handler forms ---------------------------------------------------------------------

FORMS = {
    "cjs exports": {"index.js": "exports.handler = async (e) => ({got: e.x});"},
    "cjs module.exports": {"index.js": "module.exports.handler = async (e) => ({got: e.x});"},
    "cjs module.exports object": {
        "index.js": "module.exports = { handler: async (e) => ({got: e.x}) };"
    },
    "mjs": {"index.mjs": "export const handler = async (e) => ({got: e.x});"},
    "js with type module": {
        "package.json": '{"type": "module"}',
        "index.js": "export const handler = async (e) => ({got: e.x});",
    },
    "cjs extension": {"index.cjs": "exports.handler = async (e) => ({got: e.x});"},
    "callback": {"index.js": "exports.handler = (e, c, cb) => cb(null, {got: e.x});"},
    "promise without async": {"index.js": "exports.handler = (e) => Promise.resolve({got: e.x});"},
    "context.succeed": {"index.js": "exports.handler = (e, c) => { c.succeed({got: e.x}); };"},
    "nested handler path": {
        "index.js": "exports.nested = { fn: async (e) => ({got: e.x}) };",
    },
    "subdirectory": {"src/index.mjs": "export const handler = async (e) => ({got: e.x});"},
}
HANDLERS = {"nested handler path": "index.nested.fn", "subdirectory": "src/index.handler"}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_handler_form_runs(tmp_path: Path, form: str) -> None:
    result = invoke(tmp_path, FORMS[form], b'{"x": 7}', handler=HANDLERS.get(form, "index.handler"))
    assert (result.function_error, body(result)) == (None, {"got": 7})


def test_a_sync_handler_that_returns_nothing_answers_null(tmp_path: Path) -> None:
    result = invoke(tmp_path, {"index.js": "exports.handler = (e, c, cb) => { };"})
    assert (result.function_error, result.payload) == (None, b"null")


def test_callback_waits_for_the_event_loop_unless_told_not_to(tmp_path: Path) -> None:
    source = """\
        let n = 0;
        exports.handler = (e, context, cb) => {
          context.callbackWaitsForEmptyEventLoop = e.wait;
          setTimeout(() => console.log('timer ran'), 50);
          cb(null, 'done');
        };
    """
    waited = invoke(tmp_path, {"index.js": source}, b'{"wait": true}')
    assert body(waited) == "done" and "timer ran" in waited.log
    quick = invoke(tmp_path, {"index.js": source}, b'{"wait": false}')
    assert body(quick) == "done" and "timer ran" not in quick.log


def test_the_context_object_has_nodes_fields(tmp_path: Path) -> None:
    source = """\
        exports.handler = async (e, c) => ({
          functionName: c.functionName, functionVersion: c.functionVersion,
          invokedFunctionArn: c.invokedFunctionArn, memoryLimitInMB: c.memoryLimitInMB,
          awsRequestId: c.awsRequestId, logGroupName: c.logGroupName,
          logStreamName: c.logStreamName, remaining: c.getRemainingTimeInMillis(),
          waits: c.callbackWaitsForEmptyEventLoop,
        });
    """
    got = body(invoke(tmp_path, {"index.js": source}, log_stream_name="2024/01/01/[4]abc"))
    remaining = got.pop("remaining")
    assert 0 < remaining <= 3000
    assert got == {
        "functionName": "hello",
        "functionVersion": "4",
        "invokedFunctionArn": ARN,
        "memoryLimitInMB": "256",
        "awsRequestId": RID,
        "logGroupName": "/aws/lambda/hello",
        "logStreamName": "2024/01/01/[4]abc",
        "waits": True,
    }


CLIENT_CONTEXT_JS = """\
exports.handler = async (e, c) => ({
  has: 'clientContext' in c,
  cc: c.clientContext === undefined ? 'undefined' : c.clientContext,
});
"""


@pytest.mark.parametrize("warm", [False, True], ids=["one-shot", "warm"])
def test_the_client_context_is_the_parsed_object(tmp_path: Path, warm: bool) -> None:
    """As AWS's Node runtime: context.clientContext is the caller's object as it sent it,
    undefined when it sent none."""
    (tmp_path / "index.js").write_text(CLIENT_CONTEXT_JS)
    given = {"client": {"app_title": "Shop"}, "custom": {"k": "caf\u00e9"}, "x": [1, None]}
    s = spec(tmp_path)
    make = warm_environment_for(s.runtime) if warm else executor_for(s.runtime).start
    assert make is not None
    env = make(s)
    try:
        with_cc = env.invoke(b"{}", request_id="r1", invoked_function_arn=ARN,
                             client_context=given)  # fmt: skip
        without = env.invoke(b"{}", request_id="r2", invoked_function_arn=ARN)
    finally:
        env.stop()
    assert body(with_cc) == {"has": True, "cc": given}
    assert body(without) == {"has": True, "cc": "undefined"}


def test_lambdas_environment_variables(tmp_path: Path) -> None:
    source = "exports.handler = async () => process.env;"
    env = body(invoke(tmp_path, {"index.js": source}, environment={"MINE": "1"}))
    code_dir = str(tmp_path.absolute())
    assert env["MINE"] == "1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "hello"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "4"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == code_dir
    assert env["NODE_PATH"].split(os.pathsep)[-1] == code_dir
    assert "PYTHONPATH" not in env


# --- logs ------------------------------------------------------------------------------


def test_console_lines_have_nodes_format_in_the_log(tmp_path: Path) -> None:
    source = """\
        console.log('at init');
        exports.handler = async () => { console.log('hi %s', 'there', {a: 1});
          console.error('bad\\nthing'); return 1; };
    """
    log = invoke(tmp_path, {"index.js": source}).log
    lines = log.rstrip("\n").split("\n")  # a \r inside a line is part of it
    assert lines[0].endswith("\tundefined\tINFO\tat init")
    assert lines[1] == f"START RequestId: {RID} Version: 4"
    stamp, rid, level, message = lines[2].split("\t")
    assert (rid, level, message) == (RID, "INFO", "hi there { a: 1 }")
    assert stamp.endswith("Z") and stamp[10] == "T"
    assert lines[3].endswith(f"\t{RID}\tERROR\tbad\rthing")
    assert lines[-2] == f"END RequestId: {RID}"
    assert lines[-1].startswith(f"REPORT RequestId: {RID}\tDuration: ")
    assert "Init Duration: " in lines[-1]


# --- errors ----------------------------------------------------------------------------


def test_a_thrown_error_has_nodes_error_shape(tmp_path: Path) -> None:
    source = "exports.handler = async () => { throw new TypeError('boom'); };"
    result = invoke(tmp_path, {"index.js": source})
    error = body(result)
    assert (result.function_error, result.error_type) == ("Unhandled", "TypeError")
    assert list(error) == ["errorType", "errorMessage", "trace"]
    assert (error["errorType"], error["errorMessage"]) == ("TypeError", "boom")
    assert error["trace"][0] == "TypeError: boom" and "index.js" in error["trace"][1]
    assert f"\t{RID}\tERROR\tInvoke Error \t" in result.log


def test_callback_errors_and_non_error_values(tmp_path: Path) -> None:
    result = invoke(tmp_path, {"index.js": "exports.handler = (e, c, cb) => cb('nope');"})
    assert body(result) == {"errorType": "string", "errorMessage": "nope", "trace": []}
    result = invoke(tmp_path, {"index.js": "exports.handler = (e, c, cb) => cb(new Error('x'));"})
    assert body(result)["errorType"] == "Error"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"other.js": ""}, "index.handler", "Runtime.ImportModuleError",
         "Error: Cannot find module 'index'"),
        ({"index.js": "exports.other = 1;"}, "index.handler", "Runtime.HandlerNotFound",
         "index.handler is undefined or not exported"),
        ({"index.js": "exports.handler = 1;"}, "index.handler", "Runtime.HandlerNotFound",
         "index.handler is not a function"),
        ({"index.js": "exports.handler = () => {"}, "index.handler",
         "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"),
        ({"index.mjs": "export const handler = (;"}, "index.handler",
         "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token ';'"),
        ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
        ({"index.js": "throw new RangeError('at init');"}, "index.handler", "RangeError",
         "at init"),
    ],
)  # fmt: skip
def test_init_failures_have_awss_runtime_error_types(
    tmp_path: Path, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    result = invoke(tmp_path, files, handler=handler)
    error = body(result)
    assert (result.function_error, error["errorType"]) == ("Unhandled", error_type)
    assert error["errorMessage"].startswith(message)
    assert error["trace"][0].startswith(f"{error_type}: ")
    assert "\tundefined\tERROR\tUncaught Exception \t" in result.log
    assert result.log.splitlines()[-3] == f"START RequestId: {RID} Version: 4" or (
        f"START RequestId: {RID}" in result.log
    )


def test_an_unhandled_rejection_fails_the_invocation(tmp_path: Path) -> None:
    source = "exports.handler = (e, c, cb) => { Promise.reject(new Error('lost')); };"
    error = body(invoke(tmp_path, {"index.js": source}))
    assert error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert "lost" in error["errorMessage"]


def test_a_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    source = f"""\
        const {{ spawn }} = require('child_process');
        exports.handler = async () => {{
          spawn('sh', ['-c', 'sleep 1.5; touch {marker}'], {{ stdio: 'ignore' }});
          await new Promise(() => setInterval(() => {{}}, 1000));
        }};
    """
    result = invoke(tmp_path, {"index.js": source}, timeout=1)
    assert (result.function_error, result.error_type) == ("Unhandled", "Sandbox.Timedout")
    assert body(result) == {
        "errorMessage": f"RequestId: {RID} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert "Task timed out after 1.00 seconds" in result.log
    import time

    time.sleep(1.0)
    assert not marker.exists()


def test_a_process_that_exits_is_a_runtime_exit_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, {"index.js": "exports.handler = () => process.exit(3);"})
    assert body(result) == {
        "errorMessage": f"RequestId: {RID} Error: Runtime exited with error: exit status 3",
        "errorType": "Runtime.ExitError",
    }


# --- which node ------------------------------------------------------------------------


def test_a_major_version_mismatch_runs_after_a_warning(tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text("exports.handler = async () => process.version;")
    s = spec(tmp_path, runtime="nodejs18.x")
    warnings: list[str] = []
    env = executor_for(s.runtime).start(s, warnings.append)
    try:
        result = env.invoke(b"{}", request_id=RID, invoked_function_arn=ARN)
    finally:
        env.stop()
    version = body(result)
    if version.startswith("v18."):
        assert warnings == []
    else:
        assert warnings == [
            f"nodejs18.x asks for Node.js 18, but {shutil.which('node')} is Node.js "
            f"{version[1:]}; running the handler with it"
        ]


def test_no_node_on_path_is_a_clear_error_exit_254(tmp_path: Path) -> None:
    fn = tmp_path / "fn"
    fn.mkdir()
    (fn / "index.js").write_text("exports.handler = async () => 1;")
    assert run_cli("-C", str(fn), "init", "--runtime", "nodejs20.x").exit_code == 0
    r = run_cli("-C", str(fn), "invoke", "-", env={"PATH": str(tmp_path / "empty")})
    assert (r.exit_code, r.stdout) == (254, "")
    assert r.stderr == (
        "An error occurred (InvalidRuntimeException) when calling the Invoke operation: The "
        "runtime nodejs20.x needs Node.js, but no 'node' was found on PATH: install Node.js 20 "
        "(https://nodejs.org) or put its bin directory on PATH\n"
    )


# --- through the CLI -------------------------------------------------------------------


def test_init_detects_a_node_function_and_invoke_runs_it(tmp_path: Path) -> None:
    (tmp_path / "index.mjs").write_text(
        "export const handler = async (e, c) => ({v: c.functionVersion, e});\n"
    )
    r = run_cli("-C", str(tmp_path), "init")
    assert r.exit_code == 0, r
    assert r.json["Runtime"].startswith("nodejs") and r.json["Handler"] == "index.handler"
    assert r.json["Runtime"] in {"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"}
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "index.mjs",
        "lambdaver.toml",
    ]
    assert run_cli("-C", str(tmp_path), "publish").exit_code == 0
    r = run_cli("-C", str(tmp_path), "invoke", "--qualifier", "1", "--payload", '{"a":1}', "-")
    assert r.exit_code == 0
    assert r.stdout.startswith('{"v":"1","e":{"a":1}}')


def test_init_runtime_node_writes_a_starter_index_mjs(tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "init", "--runtime", "nodejs20.x")
    assert (r.exit_code, r.json["Handler"]) == (0, "index.handler")
    assert not list(tmp_path.glob("*.py"))
    r = run_cli("-C", str(tmp_path), "invoke", "--payload", '{"name": "Ada"}', "out.json")
    assert r.exit_code == 0
    assert json.loads((tmp_path / "out.json").read_text()) == {
        "message": "Hello, Ada!",
        "version": "$LATEST",
    }


def test_a_function_error_exits_1(tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text("exports.handler = async () => { throw new Error('x'); };")
    assert run_cli("-C", str(tmp_path), "init").exit_code == 0
    r = run_cli("-C", str(tmp_path), "invoke", "out.json")
    assert (r.exit_code, json.loads(r.stdout)["FunctionError"]) == (1, "Unhandled")


def test_a_runtime_aws_does_not_have_is_refused(tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "init", "--runtime", "nodejs99.x")
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (InvalidParameterValueException) when calling the CreateFunction "
        "operation: Value nodejs99.x at 'runtime' failed to satisfy constraint: Member must "
        "satisfy enum value set: [nodejs18.x, nodejs20.x,"
    )
    assert not (tmp_path / ".lambdaver").exists()


# --- warm ------------------------------------------------------------------------------


def test_a_warm_node_environment_keeps_module_state(tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text(
        "let n = 0;\nconsole.log('init');\n"
        "exports.handler = async (e, c) => { console.log('call', ++n); "
        "if (e.fail) throw new Error('f'); return {n, rid: c.awsRequestId}; };\n"
    )
    make = warm_environment_for("nodejs20.x")
    assert make is not None
    env = make(spec(tmp_path))
    try:
        first = env.invoke(b"{}", request_id="r1", invoked_function_arn=ARN)
        second = env.invoke(b"{}", request_id="r2", invoked_function_arn=ARN)
        failed = env.invoke(b'{"fail": true}', request_id="r3", invoked_function_arn=ARN)
        again = env.invoke(b"{}", request_id="r4", invoked_function_arn=ARN)
    finally:
        env.stop()
    assert (body(first), body(second)) == ({"n": 1, "rid": "r1"}, {"n": 2, "rid": "r2"})
    assert body(failed)["errorType"] == "Error" and failed.function_error == "Unhandled"
    assert body(again) == {"n": 4, "rid": "r4"}
    assert first.init_duration_ms is not None and second.init_duration_ms is None
    assert "\tundefined\tINFO\tinit" in first.log and "\tr1\tINFO\tcall 1" in first.log
    assert "init" not in second.log and "\tr2\tINFO\tcall 2" in second.log


def test_serve_keeps_a_node_function_warm(tmp_path: Path) -> None:
    """Through ``lambdaver serve`` (boto3), a Node function's module state persists
    between invocations and only the first has an ``Init Duration``, as for Python."""
    import base64

    from tests import serve_helpers

    root = tmp_path / "hello"
    root.mkdir()
    (root / "index.mjs").write_text(
        "let calls = 0;\nexport const handler = async () => ({ calls: ++calls });\n"
    )
    assert run_cli("-C", str(tmp_path), "init", str(root), "--runtime", "nodejs20.x").exit_code == 0
    served = serve_helpers.start(root)
    try:
        client = served.client()
        try:
            outs = [client.invoke(FunctionName="hello", LogType="Tail") for _ in range(3)]
        finally:
            client.close()
    finally:
        served.stop()
    assert [json.loads(o["Payload"].read())["calls"] for o in outs] == [1, 2, 3]
    logs = [base64.b64decode(o["LogResult"]).decode() for o in outs]
    assert ["Init Duration" in log for log in logs] == [True, False, False]


def test_latest_node_traces_name_the_function_directorys_files(tmp_path: Path) -> None:
    """As for Python: $LATEST runs from a copy, but its stack trace names the user's file;
    a published version's names its frozen copy."""
    root = tmp_path / "hello"
    root.mkdir()
    (root / "index.mjs").write_text(
        "export const handler = async () => {\n  throw new TypeError('boom');\n};\n"
    )
    assert run_cli("-C", str(tmp_path), "init", str(root)).exit_code == 0
    out = tmp_path / "out.json"
    r = run_cli("-C", str(root), "invoke", str(out))
    assert r.exit_code == 1, r
    trace = json.loads(out.read_text())["trace"]
    assert f"at handler ({(root / 'index.mjs').as_uri()}:2:9)" in trace[1]
    assert ".lambdaver" not in json.dumps(trace[:2])
    assert run_cli("-C", str(root), "publish").exit_code == 0
    r = run_cli("-C", str(root), "invoke", "--qualifier", "1", str(out))
    assert ".lambdaver/cache/run/" in json.loads(out.read_text())["trace"][1]
