"""What the SAM CLI needs of ``lambdaver serve``: a parseable refusal of the
query-protocol calls a client makes when every service points at the server
(``sam remote invoke NAME`` asks CloudFormation which stack NAME is in), through boto3,
always run (InvokeWithResponseStream, which ``sam remote invoke`` calls for a function
whose URL streams, is tests/test_serve_stream.py's); and ``sam remote invoke`` itself,
run when a ``sam`` executable is found (``LAMBDAVER_SAM``, else ``sam`` on PATH; the SAM
CLI is not a test dependency: it pins its own boto3, so it lives in a virtual environment
of its own)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import AWS_ENV, DROPPED_SOCKETS, Served, error

from conftest import run_cli

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
APP = (
    "def handler(event, context):\n"
    "    print('got', event)\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return {'hi': event.get('name'), 'version': context.function_version}\n"
)

pytestmark = DROPPED_SOCKETS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hello`` with versions 1 and 2 and aliases ``prod`` (1) and ``live`` (2), whose
    function URL streams (InvokeMode RESPONSE_STREAM)."""
    project = tmp_path_factory.mktemp("project")
    root = project / "hello"
    root.mkdir()
    (root / "app.py").write_text(APP)
    for args in (
        ["init"], ["publish"], ["alias", "create", "prod", "--version", "1"],
        ["publish", "--description", "two"], ["alias", "create", "live", "--version", "2"],
    ):  # fmt: skip
        if args[0] == "publish" and len(args) > 1:
            (root / "app.py").write_text(APP + "# two\n")
        r = run_cli("-C", str(root), "--output", "json", *args)
        assert r.exit_code == 0, r
    return project


@pytest.fixture(scope="module", autouse=True)
def streaming_url(served: Served) -> None:
    lam = served.client()
    lam.create_function_url_config(
        FunctionName="hello", Qualifier="live", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    lam.close()


# --- a query-protocol call ---------------------------------------------------------------


def test_a_query_protocol_call_is_refused_in_xml(served: Served) -> None:
    import boto3
    from botocore.config import Config

    cfn = boto3.client(
        "cloudformation", endpoint_url=served.url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    try:
        with pytest.raises(cfn.exceptions.ClientError) as exc:
            cfn.describe_stack_resources(PhysicalResourceId="hello")
    finally:
        cfn.close()
    code, message, status = error(exc)
    assert (code, status) == ("InvalidAction", 400)
    assert message.startswith("The action DescribeStackResources is not valid")


# --- the SAM CLI itself ------------------------------------------------------------------


def sam_executable() -> str | None:
    return os.environ.get("LAMBDAVER_SAM") or shutil.which("sam")


@pytest.fixture(scope="module")
def sam(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``sam ARGS`` against the server: every AWS service's endpoint is the server's
    (``AWS_ENDPOINT_URL``), dummy credentials, telemetry off, and SAM's weekly check for a
    newer version on PyPI marked as done, so nothing is sent anywhere but the server."""
    exe = sam_executable()
    if exe is None:
        pytest.skip("the SAM CLI is not installed (set LAMBDAVER_SAM or put sam on PATH)")
    home = tmp_path_factory.mktemp("samhome")
    (home / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "__SAM_CLI_APP_DIR": str(home),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_ENDPOINT_URL": served.url,
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_REGION": "us-east-1",
        **AWS_ENV,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], capture_output=True, text=True, env=env, timeout=180, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    yield run


def test_sam_remote_invoke_by_arn_and_qualifier(sam: Any) -> None:
    r = sam("remote", "invoke", ARN + "hello", "--event", '{"name": "sam"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"hi": "sam", "version": "$LATEST"}
    assert "got {'name': 'sam'}" in r.stderr and "REPORT RequestId:" in r.stderr
    r = sam("remote", "invoke", ARN + "hello:prod", "--event", '{"name": "p"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"hi": "p", "version": "1"}
    r = sam("remote", "invoke", ARN + "hello", "--parameter", "Qualifier=1", "--event", "{}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "1"


def test_sam_remote_invoke_json_output_and_a_function_error(sam: Any) -> None:
    r = sam("remote", "invoke", ARN + "hello:prod", "--output", "json", "--event", "{}")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "1"
    assert json.loads(out["Payload"])["version"] == "1"
    r = sam("remote", "invoke", ARN + "hello", "--event", '{"fail": true}')
    assert r.returncode == 0, r.stderr  # as against AWS: a function error is an answer
    assert json.loads(r.stdout)["errorMessage"] == "asked to fail"


def test_sam_remote_invoke_of_a_streaming_function(sam: Any) -> None:
    # live's URL is RESPONSE_STREAM: SAM calls InvokeWithResponseStream
    r = sam("remote", "invoke", ARN + "hello:live", "--event", '{"name": "st"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.split("}", 1)[0] + "}") == {"hi": "st", "version": "2"}
    r = sam("remote", "invoke", ARN + "hello:live", "--output", "json", "--event", "{}")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ExecutedVersion"] == "2"
    chunk = out["EventStream"][0]["PayloadChunk"]["Payload"]
    assert json.loads(chunk)["version"] == "2" and "InvokeComplete" in out["EventStream"][1]


def test_sam_remote_invoke_refusals(sam: Any) -> None:
    r = sam("remote", "invoke", ARN + "hello:nope", "--event", "{}")
    assert r.returncode == 1
    assert "ResourceNotFoundException" in r.stderr and "Function not found" in r.stderr
    # a bare name: SAM asks CloudFormation for the stack; the server refuses that in XML,
    # and SAM says what to do (as against AWS for a function in no stack)
    r = sam("remote", "invoke", "hello", "--event", "{}")
    assert r.returncode == 1
    assert "Please provide full resource ARN or --stack-name" in r.stderr, r.stderr
