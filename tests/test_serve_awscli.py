"""Every function, version, alias and invoke operation of ``lambdaver serve``, and each
error class, through the aws CLI itself (``python -m awscli --endpoint-url``), run as a
user runs it: a subprocess with its own config and credentials files.  Each error is
checked for the aws CLI's own line (error code, operation, message), its exit status, and
one HTTP attempt (``--debug`` counts the requests botocore sent, with its default
retries left on)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import Served, aws_cli_env

APP = """\
def handler(event, context):
    print('hi', event)
    return {'v': V, 'event': event}

V = 1
"""
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:made"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def aws(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("awshome")
    env = aws_cli_env(home)

    def run(*args: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", served.url]
        cmd += ["--debug"] if debug else []
        return subprocess.run(
            [*cmd, "lambda", *args], capture_output=True, text=True, env=env, cwd=home,
            timeout=120, check=False,
        )  # fmt: skip

    run.home = home  # type: ignore[attr-defined]
    return run


def ok(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout) if r.stdout.strip() else None


def zipped(path: Path, text: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", text)
    path.write_bytes(buf.getvalue())
    return f"fileb://{path}"


def test_every_operation_through_the_aws_cli(aws, project: Path) -> None:
    home: Path = aws.home
    made = ok(aws(
        "create-function", "--function-name", "made", "--runtime", "python3.12",
        "--role", ROLE, "--handler", "app.handler",
        "--zip-file", zipped(home / "v1.zip", APP),
    ))  # fmt: skip
    assert made["FunctionArn"] == ARN and made["Version"] == "$LATEST"
    assert (project / "made" / "app.py").read_text() == APP  # a function directory
    got = ok(aws("get-function", "--function-name", "made"))
    assert got["Configuration"]["CodeSha256"] == made["CodeSha256"]
    assert got["Code"]["Location"].startswith("http://127.0.0.1:")
    conf = ok(aws("update-function-configuration", "--function-name", "made",
                  "--description", "first", "--environment", "Variables={AB=1}"))  # fmt: skip
    assert conf["Description"] == "first" and conf["Environment"]["Variables"] == {"AB": "1"}
    assert ok(aws("get-function-configuration", "--function-name", "made"))["Description"] == (
        "first"
    )
    v1 = ok(aws("publish-version", "--function-name", "made"))
    assert v1["Version"] == "1"
    v2_zip = zipped(home / "v2.zip", APP.replace("V = 1", "V = 2"))
    code = ok(aws("update-function-code", "--function-name", "made", "--zip-file", v2_zip))
    assert code["CodeSha256"] != made["CodeSha256"]
    v2 = ok(aws("publish-version", "--function-name", "made", "--description", "second"))
    assert (v2["Version"], v2["Description"]) == ("2", "second")
    versions = ok(aws("list-versions-by-function", "--function-name", "made"))["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    alias = ok(aws("create-alias", "--function-name", "made", "--name", "live",
                   "--function-version", "1"))  # fmt: skip
    assert alias["AliasArn"] == ARN + ":live"
    moved = ok(aws("update-alias", "--function-name", "made", "--name", "live",
                   "--function-version", "2",
                   "--routing-config", "AdditionalVersionWeights={1=0.25}"))  # fmt: skip
    assert moved["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert ok(aws("get-alias", "--function-name", "made", "--name", "live"))["FunctionVersion"] == (
        "2"
    )
    listed = ok(aws("list-aliases", "--function-name", "made"))["Aliases"]
    assert [a["Name"] for a in listed] == ["live"]
    out = home / "out.json"
    res = ok(aws("invoke", "--function-name", "made", "--qualifier", "2", "--log-type", "Tail",
                 "--payload", '{"k": 3}', str(out)))  # fmt: skip
    assert res["StatusCode"] == 200 and res["ExecutedVersion"] == "2"
    assert json.loads(out.read_text()) == {"v": 2, "event": {"k": 3}}
    assert "hi {'k': 3}" in base64.b64decode(res["LogResult"]).decode()
    res = ok(aws("invoke", "--function-name", "made:live", "--invocation-type", "Event",
                 "--payload", "{}", str(out)))  # fmt: skip
    assert res["StatusCode"] == 202
    res = ok(aws("invoke", "--function-name", "made", "--invocation-type", "DryRun", str(out)))
    assert res["StatusCode"] == 204
    functions = ok(aws("list-functions"))["Functions"]
    assert "made" in [f["FunctionName"] for f in functions]
    assert ok(aws("delete-alias", "--function-name", "made", "--name", "live")) is None
    # DeleteFunction's StatusCode is bound to the HTTP status (204), so the CLI prints it
    deleted = ok(aws("delete-function", "--function-name", "made", "--qualifier", "1"))
    assert deleted == {"StatusCode": 204}
    versions = ok(aws("list-versions-by-function", "--function-name", "made"))["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]
    assert ok(aws("delete-function", "--function-name", "made")) == {"StatusCode": 204}
    assert (project / "made" / "app.py").exists()  # code is never deleted
    r = aws("get-function", "--function-name", "made")
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


@pytest.fixture(scope="module")
def target(aws) -> str:
    """A function with version 1 and alias ``live`` for the error cases."""
    ok(aws(
        "create-function", "--function-name", "errs", "--runtime", "python3.12",
        "--role", ROLE, "--handler", "app.handler", "--publish",
        "--zip-file", zipped(aws.home / "errs.zip", APP),
    ))  # fmt: skip
    ok(aws("create-alias", "--function-name", "errs", "--name", "live", "--function-version", "1"))
    return "errs"


big = "x" * (6 * 1024 * 1024 + 10)
ERRORS = [
    (("get-alias", "--function-name", "errs", "--name", "nope"), "GetAlias",
     "ResourceNotFoundException",
     "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:errs:nope"),
    (("create-alias", "--function-name", "errs", "--name", "live", "--function-version", "1"),
     "CreateAlias", "ResourceConflictException",
     "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:errs:live"),
    (("update-alias", "--function-name", "errs", "--name", "live", "--revision-id", "stale"),
     "UpdateAlias", "PreconditionFailedException",
     "The Revision Id provided does not match the latest Revision Id. Call the "
     "GetFunction/GetAlias API to retrieve the latest Revision Id"),
    (("publish-version", "--function-name", "errs", "--code-sha256", "abc"), "PublishVersion",
     "InvalidParameterValueException", "CodeSHA256 (abc) is different from current CodeSHA256"),
    (("get-function", "--function-name", "errs", "--qualifier", "bad!"), "GetFunction",
     "ValidationException", "1 validation error detected: Value 'bad!' at 'qualifier'"),
    (("invoke", "--function-name", "errs", "--payload", "{nope", "out.json"), "Invoke",
     "InvalidRequestContentException", "Could not parse request body into json"),
    (("invoke", "--function-name", "errs", "--payload", "fileb://big.json", "out.json"),
     "Invoke", "RequestTooLargeException", "Request must be smaller than"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "operation", "code", "message"), ERRORS, ids=[e[2] for e in ERRORS]
)
def test_each_error_class_through_the_aws_cli(aws, target, args, operation, code, message) -> None:
    (aws.home / "big.json").write_text(json.dumps({"pad": big}))
    r = aws(*args, debug=True)
    assert r.returncode in (254, 255)  # aws CLI v2 exits 254 on a service error, v1 255
    line = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    assert line in r.stderr
    # one HTTP attempt: botocore's default retries (5xx, 429) never fire on a refusal
    assert r.stderr.count("Sending http request") == 1, r.stderr.count("Sending http request")
