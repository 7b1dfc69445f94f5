"""push and pull with ``lambdaver serve`` as the remote (docs/sync.md, "Rehearsing against
lambdaver serve"): a real Lambda API on a loopback port whose ``Code.Location`` is a real
http URL, which keeps a policy and a function URL per qualifier, and which enforces the
RevisionId and CodeSha256 preconditions that moto ignores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import Served, start, zip_of

from conftest import Fn, run_cli, run_subprocess

pytest.importorskip("boto3")

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
)

APP = "def handler(event, context):\n    return {'v': V}\n\nV = 0\n"
ROLE = "arn:aws:iam::000000000000:role/exec"


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy credentials, and AWS config files of the test's own."""
    (tmp_path / "aws").mkdir(exist_ok=True)
    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws" / "credentials"),
        "NO_PROXY": "127.0.0.1",
    }
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def served(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Served]:
    """A project with function ``fn``: 2 versions, alias live -> 2 with 30 % on 1."""
    project = tmp_path / "served"
    root = project / "fn"
    root.mkdir(parents=True)
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    remote_fn = Fn(root)
    remote_fn.publish(**{"app.py": APP.replace("V = 0", "V = 1")})
    remote_fn.ok("config", "set", "--timeout", "9", "--env", "STAGE=two")
    remote_fn.publish(**{"app.py": APP.replace("V = 0", "V = 2")})
    remote_fn.ok("alias", "create", "live", "--version", "2", "--weight", "1=0.3")
    s = start(project)
    try:
        yield s
    finally:
        s.kill()


def test_pull_downloads_each_version_from_the_server(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "copy"
    got = run_subprocess("--endpoint-url", served.url, "--output", "json", "pull",
                         "--function-name", "fn", str(target), cwd=tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert [(v["RemoteVersion"], v["LocalVersion"], v["Action"]) for v in out["Versions"]] == [
        ("1", "1", "pulled"), ("2", "2", "pulled"),
    ]  # fmt: skip
    original, copy = Fn(tmp_path / "served" / "fn"), Fn(target)
    for n in ("1", "2"):
        mine = copy.ok("export", n, "-o", str(tmp_path / f"copy-{n}.zip"))
        theirs = original.ok("export", n, "-o", str(tmp_path / f"orig-{n}.zip"))
        assert mine["CodeSha256"] == theirs["CodeSha256"]
    second = copy.ok("config", "show", "--qualifier", "2")
    assert (second["Timeout"], second["Environment"]) == (9, {"Variables": {"STAGE": "two"}})
    live = copy.ok("alias", "get", "live")
    assert (live["FunctionVersion"], live["RoutingConfig"]) == (
        "2", {"AdditionalVersionWeights": {"1": 0.3}},
    )  # fmt: skip
    again = run_cli("-C", str(target), "--endpoint-url", served.url, "--output", "json", "pull",
                    "--function-name", "fn")  # fmt: skip
    assert again.exit_code == 0, again
    assert {v["Action"] for v in again.json["Versions"]} == {"present"}


STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"


def local_history(fn: Fn) -> None:
    """Two versions, prod -> 2 with 20 % on 1, a permission, a URL and a Kinesis mapping
    on prod."""
    fn.publish()
    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 2}\n"})
    fn.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.2")
    fn.ok("add-permission", "--qualifier", "prod", "--statement-id", "url",
          "--action", "lambda:InvokeFunctionUrl", "--principal", "*",
          "--function-url-auth-type", "AWS_IAM")  # fmt: skip
    fn.ok("create-function-url-config", "--qualifier", "prod", "--auth-type", "AWS_IAM")
    fn.ok("create-event-source-mapping", "--function-name", "hello:prod",
          "--event-source-arn", STREAM, "--starting-position", "LATEST")  # fmt: skip


def test_push_to_the_server_then_nothing_changes(served: Served, fn: Fn) -> None:
    local_history(fn)
    r = fn("--endpoint-url", served.url, "push", "--function-name", "pushed", "--role", ROLE)
    assert r.exit_code == 0, r
    lam = served.client()
    try:
        pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName="pushed")
        versions = [v for p in pages for v in p["Versions"] if v["Version"] != "$LATEST"]
        assert [v["Version"] for v in versions] == ["1", "2"]
        for v in versions:
            local = fn.ok("get-function", "--qualifier", v["Version"])["Configuration"]
            assert v["CodeSha256"] == local["CodeSha256"]  # serve's CodeSha256: the tree's
        prod = lam.get_alias(FunctionName="pushed", Name="prod")
        assert (prod["FunctionVersion"], prod["RoutingConfig"]) == (
            "2", {"AdditionalVersionWeights": {"1": 0.2}},
        )  # fmt: skip
        [st] = json.loads(lam.get_policy(FunctionName="pushed", Qualifier="prod")["Policy"])[
            "Statement"
        ]
        assert (st["Sid"], st["Principal"], st["Action"]) == (
            "url",
            "*",
            "lambda:InvokeFunctionUrl",
        )
        assert st["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"] == "AWS_IAM"
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_policy(FunctionName="pushed")  # a policy per qualifier
        url = lam.get_function_url_config(FunctionName="pushed", Qualifier="prod")
        assert url["AuthType"] == "AWS_IAM"
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function_url_config(FunctionName="pushed")
        [m] = lam.list_event_source_mappings(FunctionName="pushed:prod")["EventSourceMappings"]
        assert (m["EventSourceArn"], m["FunctionArn"].rsplit(":", 1)[1]) == (STREAM, "prod")
    finally:
        lam.close()
    again = fn("--endpoint-url", served.url, "push", "--function-name", "pushed")
    assert again.exit_code == 0, again
    assert again.json["Changes"] == 0, again.json


def test_a_change_made_through_the_server_before_publish_is_refused(
    served: Served, fn: Fn, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_history(fn)
    r = fn("--endpoint-url", served.url, "push", "--function-name", "pushed", "--role", ROLE)
    assert r.exit_code == 0, r
    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 3}\n"})
    from lambdaver.service import sync

    made = sync.lambda_client
    other = served.client()

    def meddle(**_kw: Any) -> None:  # someone else, between our check and our publish
        other.update_function_code(FunctionName="pushed",
                                   ZipFile=zip_of({"app.py": "theirs = 1\n"}))  # fmt: skip

    def client_with_meddler(*args: Any) -> Any:
        client = made(*args)
        client.meta.events.register_first("before-call.lambda.PublishVersion", meddle)
        return client

    monkeypatch.setattr(sync, "lambda_client", client_with_meddler)
    try:
        refused = fn("--endpoint-url", served.url, "push", "--function-name", "pushed")
        assert refused.exit_code == 254, refused
        assert "PreconditionFailedException" in refused.stderr
        assert "PublishVersion" in refused.stderr
        pages = other.get_paginator("list_versions_by_function").paginate(FunctionName="pushed")
        numbers = [v["Version"] for p in pages for v in p["Versions"]]
        assert numbers == ["$LATEST", "1", "2"]  # nothing published under our name
    finally:
        other.close()
