"""push and pull against moto's server (a stand-in for AWS Lambda, started on a free
loopback port; nothing else is reached).

Where moto differs from AWS (docs/sync.md, "Tested against moto"): it keeps no RevisionId
on functions or versions and ignores the RevisionId and CodeSha256 preconditions, never
changes an alias's RevisionId, reuses version numbers after deletes, and its
``Code.Location`` names an S3 bucket on amazonaws.com that it does not serve: the pull
tests therefore download through a stand-in of ``_download`` that serves the zips the
test saw uploaded, checked against their CodeSha256 as the real one checks them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Fn, run_cli, run_subprocess

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's server, started once for this module and always killed."""
    port = _free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()  # noqa: S310
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


class Aws:
    """The test's view of the remote: a boto3 client, the role, the calls lambdaver
    made (by operation) and the zips it uploaded (by CodeSha256)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = boto3.client("lambda", endpoint_url=url, region_name=REGION)
        iam = boto3.client("iam", endpoint_url=url, region_name=REGION)
        self.role = iam.create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.calls: Counter[str] = Counter()
        self.zips: dict[str, bytes] = {}

    def watch(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call.lambda.*", self._count)
        events.register("provide-client-params.lambda.*", self._keep_zip)

    def _count(self, model: Any, **_kw: Any) -> None:
        self.calls[model.name] += 1

    def _keep_zip(self, params: dict[str, Any], **_kw: Any) -> None:
        data = params.get("ZipFile") or (params.get("Code") or {}).get("ZipFile")
        if data:
            self.zips[sha(data)] = data

    def changes(self) -> dict[str, int]:
        return {k: v for k, v in self.calls.items() if not k.startswith(("List", "Get"))}

    def versions(self, name: str = "hello") -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        return [v for p in pages for v in p["Versions"] if v["Version"] != "$LATEST"]

    def alias(self, name: str, fn: str = "hello") -> tuple[str, dict[str, float]]:
        a = self.client.get_alias(FunctionName=fn, Name=name)
        return a["FunctionVersion"], a.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def aws(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Aws:
    reset = urllib.request.Request(moto_url + "/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    (tmp_path / "aws").mkdir(exist_ok=True)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws" / "credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    aws = Aws(moto_url)
    from lambdaver.service import sync

    made = sync.lambda_client

    def watched(*args: Any) -> Any:
        client = made(*args)
        aws.watch(client)
        return client

    monkeypatch.setattr(sync, "lambda_client", watched)

    def download(url: str, code_sha256: str, timeout: float = 0) -> bytes:
        assert url.startswith("https://awslambda-us-east-1-tasks.s3")  # moto's (unserved) URL
        return aws.zips[code_sha256]

    monkeypatch.setattr(sync, "_download", download)
    return aws


def remote(fn: Fn, aws: Aws, *args: str) -> Any:
    return fn("--endpoint-url", aws.url, *args)


def make_history(fn: Fn) -> None:
    """Three versions (the third a configuration change only) and prod -> 3, 10 % on 2."""
    fn.publish()
    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 2}\n"})
    fn.ok("config", "set", "--timeout", "7", "--env", "STAGE=prod")
    fn.ok("publish", "--description", "third")
    fn.ok("alias", "create", "prod", "--version", "3", "--weight", "2=0.1")
    fn.ok("alias", "create", "dev", "--version", "$LATEST")


# --- push ------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_sends_nothing(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    r = remote(fn, aws, "push", "--dry-run")
    assert r.exit_code == 0, r
    plan = r.json
    assert plan["CreateFunction"] is True
    assert plan["DryRun"] is True
    assert [(v["LocalVersion"], v["RemoteVersion"], v["Action"], v["Upload"])
            for v in plan["Versions"]] == [
        ("1", "1", "publish", True), ("2", "2", "publish", True), ("3", "3", "publish", False),
    ]  # fmt: skip
    prod = next(a for a in plan["Aliases"] if a["Name"] == "prod")
    assert prod["Action"] == "create"
    assert prod["FunctionVersion"] == "3"
    assert prod["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert aws.changes() == {}
    assert set(aws.calls) == {"ListVersionsByFunction"}
    table = run_cli("-C", str(fn.root), "--endpoint-url", aws.url, "--output", "table",
                    "push", "--dry-run")  # fmt: skip
    assert table.exit_code == 0, table
    assert table.stdout.splitlines() == [
        "create function hello",
        "publish local versions 1-3 as remote 1-3 (2 uploads)",
        "create alias dev -> remote $LATEST",
        "create alias prod -> remote 3 with 10 % on 2",
    ]
    with pytest.raises(aws.client.exceptions.ResourceNotFoundException):
        aws.client.get_function(FunctionName="hello")


def test_push_creates_the_function_and_a_second_push_changes_nothing(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    r = remote(fn, aws, "push", "--role", aws.role)
    assert r.exit_code == 0, r
    assert r.json["Done"] is True
    versions = aws.versions()
    assert [v["Version"] for v in versions] == ["1", "2", "3"]
    for v in versions:  # the zip export makes, byte for byte
        exported = fn.ok("get-function", "--qualifier", v["Version"])
        local_zip = Path(exported["Code"]["Location"].removeprefix("file://")).read_bytes()
        assert v["CodeSha256"] == sha(local_zip)
    assert versions[2]["Timeout"] == 7
    assert versions[2]["Environment"] == {"Variables": {"STAGE": "prod"}}
    assert versions[2]["Description"] == "third"
    assert aws.alias("prod") == ("3", {"2": 0.1})
    assert aws.alias("dev") == ("$LATEST", {})
    assert aws.changes()["UpdateFunctionCode"] == 1  # 2 distinct codes: one at create
    assert aws.changes()["PublishVersion"] == 3

    aws.calls.clear()
    again = remote(fn, aws, "push")
    assert again.exit_code == 0, again
    assert again.json["Changes"] == 0, json.dumps(again.json)
    assert aws.changes() == {}
    assert set(aws.calls) == {"ListVersionsByFunction", "ListAliases"}
    assert len(aws.versions()) == 3


def test_push_numbers_after_the_remotes_own_versions_and_translates_weights(
    fn: Fn, aws: Aws
) -> None:
    zf = io.BytesIO()
    with zipfile.ZipFile(zf, "w") as z:
        z.writestr("other.py", "x = 1\n")
    aws.client.create_function(FunctionName="hello", Runtime="python3.12", Role=aws.role,
                               Handler="other.h", Code={"ZipFile": zf.getvalue()})  # fmt: skip
    aws.client.publish_version(FunctionName="hello")
    aws.client.update_function_configuration(FunctionName="hello", Timeout=9)
    aws.client.publish_version(FunctionName="hello")
    make_history(fn)
    r = remote(fn, aws, "push", "--aliases", "prod")
    assert r.exit_code == 0, r
    assert [(v["LocalVersion"], v["RemoteVersion"]) for v in r.json["Versions"]] == [
        ("1", "3"), ("2", "4"), ("3", "5"),
    ]  # fmt: skip
    assert aws.alias("prod") == ("5", {"4": 0.1})
    with pytest.raises(aws.client.exceptions.ResourceNotFoundException):
        aws.client.get_alias(FunctionName="hello", Name="dev")
    # push --versions new after one more local version: only that one
    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 4}\n"})
    plan = remote(fn, aws, "push", "--versions", "new", "--dry-run").json
    steps = [(v["LocalVersion"], v["Action"]) for v in plan["Versions"]]
    assert steps == [("2", "present"), ("3", "present"), ("4", "publish")]  # 2, 3: prod's


def test_a_remote_alias_moved_by_someone_else_is_refused_unless_force(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    assert remote(fn, aws, "push", "--role", aws.role).exit_code == 0
    aws.client.update_alias(FunctionName="hello", Name="prod", FunctionVersion="1",
                            RoutingConfig={"AdditionalVersionWeights": {}})  # fmt: skip
    fn.ok("alias", "update", "prod", "--version", "2", "--routing-config", "{}")
    aws.calls.clear()
    r = remote(fn, aws, "push")
    assert r.exit_code == 254, r
    assert "PreconditionFailedException" in r.stderr
    assert "prod (changed on the remote since the last push (now remote 1))" in r.stderr
    assert "--force" in r.stderr
    assert aws.changes() == {}
    assert aws.alias("prod") == ("1", {})
    forced = remote(fn, aws, "push", "--force")
    assert forced.exit_code == 0, forced
    assert aws.alias("prod") == ("2", {})
    assert remote(fn, aws, "push").json["Changes"] == 0


def test_an_alias_lambdaver_never_pushed_is_drift_too(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    assert remote(fn, aws, "push", "--role", aws.role, "--aliases", "dev").exit_code == 0
    aws.client.create_alias(FunctionName="hello", Name="prod", FunctionVersion="1")
    r = remote(fn, aws, "push")
    assert r.exit_code == 254, r
    assert "never pushed by lambdaver" in r.stderr


def test_a_kill_9_at_any_point_then_a_rerun_makes_no_duplicate(fn: Fn, aws: Aws) -> None:
    for i in range(6):
        fn.publish(**{"app.py": f"def handler(event, context):\n    return {{'v': {i}}}\n"})
    fn.ok("alias", "create", "prod", "--version", "6", "--weight", "5=0.25")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    cmd = [str(Path(sys.executable).parent / "lambdaver"), "--endpoint-url", aws.url,
           "--output", "json", "push", "--role", aws.role]  # fmt: skip
    import random

    rng = random.Random(17)
    for _ in range(3):
        proc = subprocess.Popen(cmd, cwd=fn.root, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.4, 1.6))
        proc.kill()
        proc.wait(timeout=30)
    done = run_subprocess("--endpoint-url", aws.url, "--output", "json", "push",
                          "--role", aws.role, cwd=fn.root, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    versions = aws.versions()
    contents = [(v["CodeSha256"], v["Description"], v["Timeout"]) for v in versions]
    assert len(contents) == len(set(contents)) == 6  # moto may publish one repeat: not here
    assert aws.alias("prod")[1] == {str(int(aws.alias("prod")[0]) - 1): 0.25}
    aws.calls.clear()
    assert remote(fn, aws, "push").json["Changes"] == 0


def test_push_refuses_to_create_without_a_role(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    r = remote(fn, aws, "push")
    assert r.exit_code == 254, r
    assert "pass --role" in r.stderr
    assert aws.changes() == {}


# --- pull ------------------------------------------------------------------------------


def test_pull_into_an_empty_directory_then_only_what_is_new(
    fn: Fn, aws: Aws, tmp_path: Path
) -> None:
    make_history(fn)
    assert remote(fn, aws, "push", "--role", aws.role).exit_code == 0
    target = tmp_path / "copy"
    r = run_cli("--endpoint-url", aws.url, "--output", "json", "pull",
                "--function-name", "hello", str(target))  # fmt: skip
    assert r.exit_code == 0, r
    assert [(v["RemoteVersion"], v["LocalVersion"], v["Action"]) for v in r.json["Versions"]] == [
        ("1", "1", "pulled"), ("2", "2", "pulled"), ("3", "3", "pulled"),
    ]  # fmt: skip
    copy = Fn(target)
    for v in aws.versions():
        got = copy.ok("export", v["Version"], "-o", str(tmp_path / f"{v['Version']}.zip"))
        assert got["CodeSha256"] == v["CodeSha256"]
    third = copy.ok("config", "show", "--qualifier", "3")
    assert (third["Timeout"], third["Description"]) == (7, "third")
    assert third["Environment"] == {"Variables": {"STAGE": "prod"}}
    prod = copy.ok("alias", "get", "prod")
    assert (prod["FunctionVersion"], prod["RoutingConfig"]) == (
        "3", {"AdditionalVersionWeights": {"2": 0.1}},
    )  # fmt: skip
    # $LATEST is the remote $LATEST: version 3's code and configuration, but its own
    # description ("" where version 3 has "third", as on the remote)
    status = copy.ok("status")
    assert status["Files"] == {"Added": [], "Modified": [], "Deleted": []}
    assert status["Configuration"] == {"Description": ["third", ""]}

    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 9}\n"})
    fn.ok("alias", "update", "prod", "--version", "4", "--routing-config", "{}")
    assert remote(fn, aws, "push").exit_code == 0
    aws.calls.clear()
    again = run_cli("-C", str(target), "--endpoint-url", aws.url, "--output", "json", "pull",
                    "--function-name", "hello")  # fmt: skip
    assert again.exit_code == 0, again
    actions = [(v["RemoteVersion"], v["Action"]) for v in again.json["Versions"]]
    assert actions == [("1", "present"), ("2", "present"), ("3", "present"), ("4", "pulled")]
    assert aws.calls["GetFunction"] == 1  # the new version's code only
    assert copy.ok("alias", "get", "prod")["FunctionVersion"] == "4"
    aws.calls.clear()
    third_pull = run_cli("-C", str(target), "--endpoint-url", aws.url, "--output", "json",
                         "pull", "--function-name", "hello")  # fmt: skip
    assert third_pull.exit_code == 0, third_pull
    assert aws.calls["GetFunction"] == 0
    # what was pulled is not pushed back as new: the mapping goes both ways
    push_back = run_cli("-C", str(target), "--endpoint-url", aws.url, "--output", "json",
                        "push")  # fmt: skip
    assert push_back.exit_code == 0, push_back
    assert push_back.json["Changes"] == 0


def test_pull_refuses_a_directory_that_is_not_empty(aws: Aws, fn: Fn, tmp_path: Path) -> None:
    make_history(fn)
    assert remote(fn, aws, "push", "--role", aws.role).exit_code == 0
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine\n")
    r = run_cli("--endpoint-url", aws.url, "pull", "--function-name", "hello", str(busy))
    assert r.exit_code == 254, r
    assert "is not empty" in r.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_pull_of_a_missing_function(aws: Aws, tmp_path: Path) -> None:
    r = run_cli("--endpoint-url", aws.url, "pull", "--function-name", "nope", str(tmp_path / "x"))
    assert r.exit_code == 254, r
    assert "ResourceNotFoundException" in r.stderr
    assert not (tmp_path / "x").exists()


# --- installation and credentials ------------------------------------------------------


def test_without_boto3_push_says_how_to_install_it(fn: Fn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 raises ImportError
    r = fn("push", "--dry-run")
    assert r.exit_code == 254, r
    assert "pip install 'lambdaver[aws]'" in r.stderr


def test_missing_credentials_exit_253(fn: Fn, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    r = remote(fn, aws, "push", "--dry-run")
    assert r.exit_code == 253, r
    assert r.stderr.startswith("Unable to locate credentials")


def test_profile_is_the_aws_profile(fn: Fn, aws: Aws, tmp_path: Path) -> None:
    """--profile names an AWS profile (credentials, region); lambdaver's own config file
    need not have a table of that name."""
    (tmp_path / "aws" / "credentials").write_text(
        "[team]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    (tmp_path / "aws" / "config").write_text("[profile team]\nregion = us-east-1\n")
    make_history(fn)
    r = remote(fn, aws, "push", "--dry-run", "--profile", "team")
    assert r.exit_code == 0, r
    missing = remote(fn, aws, "push", "--dry-run", "--profile", "nobody")
    assert missing.exit_code == 253, missing
    assert "nobody" in missing.stderr


def test_no_verb_but_push_and_pull_imports_boto3(tmp_path: Path) -> None:
    code = (
        "import sys, lambdaver.cli.commands_sync, lambdaver.service.sync_plan;"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- permissions, function URLs, event source mappings (contract §13's last point) ----


def make_triggers(fn: Fn, stream_arn: str) -> None:
    """Permissions on the function and on prod, a function URL, a Kinesis mapping (kept,
    never fired here: pushed) and an SQS mapping on a local queue (skipped)."""
    fn.ok("add-permission", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
          "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::my-bucket",
          "--source-account", "111111111111")  # fmt: skip
    fn.ok("add-permission", "--qualifier", "prod", "--statement-id", "acct",
          "--action", "lambda:InvokeFunction", "--principal", "222222222222")  # fmt: skip
    fn.ok("create-function-url-config", "--auth-type", "NONE",
          "--cors", '{"AllowOrigins": ["https://example.com"], "MaxAge": 60}')  # fmt: skip
    fn.ok("create-event-source-mapping", "--function-name", "hello",
          "--event-source-arn", stream_arn, "--batch-size", "50",
          "--starting-position", "LATEST")  # fmt: skip
    fn.ok("queue", "create", "orders")
    fn.ok("create-event-source-mapping", "--function-name", "hello:prod",
          "--event-source-arn", "arn:aws:sqs:us-east-1:000000000000:orders")  # fmt: skip


def test_push_carries_permissions_url_and_mappings_the_remote_can_hold(
    fn: Fn, aws: Aws, moto_url: str
) -> None:
    kinesis = boto3.client("kinesis", endpoint_url=moto_url, region_name=REGION)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    make_history(fn)
    make_triggers(fn, stream)
    plan = remote(fn, aws, "push", "--role", aws.role, "--dry-run")
    assert plan.exit_code == 0, plan
    assert [(p["Qualifier"], p["StatementId"], p["Action"]) for p in plan.json["Permissions"]] == [
        (None, "s3", "create"), ("prod", "acct", "create"),
    ]  # fmt: skip
    mappings = {m["EventSourceArn"]: m for m in plan.json["EventSourceMappings"]}
    assert mappings[stream]["Action"] == "create"
    skipped = mappings["arn:aws:sqs:us-east-1:000000000000:orders"]
    assert (skipped["Qualifier"], skipped["Action"]) == ("prod", "skipped")
    assert "local" in skipped["Reason"]
    table = remote(fn, aws, "push", "--role", aws.role, "--dry-run", "--output", "table")
    assert "add permission acct of alias prod" in table.stdout
    assert "skip event source mapping arn:aws:sqs:us-east-1:000000000000:orders" in table.stdout

    r = remote(fn, aws, "push", "--role", aws.role)
    assert r.exit_code == 0, r
    policy = json.loads(aws.client.get_policy(FunctionName="hello")["Policy"])
    # moto keeps one policy for a function and its versions and aliases (AWS: one per
    # qualifier; tests/test_sync_serve.py checks that against lambdaver serve)
    s3 = {st["Sid"]: st for st in policy["Statement"]}["s3"]
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"}
    assert s3["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::my-bucket"
    assert s3["Condition"]["StringEquals"]["AWS:SourceAccount"] == "111111111111"
    assert aws.calls["AddPermission"] == 2
    url = aws.client.get_function_url_config(FunctionName="hello")
    assert url["AuthType"] == "NONE"
    assert url["Cors"]["AllowOrigins"] == ["https://example.com"]
    got = aws.client.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
    assert [(m["BatchSize"], m["FunctionArn"].split(":")[-1]) for m in got] == [(50, "hello")]

    aws.calls.clear()
    again = remote(fn, aws, "push")
    assert again.exit_code == 0, again
    assert again.json["Changes"] == 0, json.dumps(again.json)
    assert aws.changes() == {}


def test_a_remote_statement_with_the_same_id_is_drift(fn: Fn, aws: Aws) -> None:
    make_history(fn)
    fn.ok("add-permission", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
          "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::mine")  # fmt: skip
    assert remote(fn, aws, "push", "--role", aws.role, "--aliases", "dev").exit_code == 0
    aws.client.remove_permission(FunctionName="hello", StatementId="s3")
    aws.client.add_permission(
        FunctionName="hello", StatementId="s3", Principal="s3.amazonaws.com",
        Action="lambda:InvokeFunction", SourceArn="arn:aws:s3:::theirs",
    )  # fmt: skip
    fn.publish(**{"app.py": "def handler(event, context):\n    return {'v': 5}\n"})
    aws.calls.clear()
    r = remote(fn, aws, "push", "--aliases", "dev")
    assert r.exit_code == 254, r
    assert "PreconditionFailedException" in r.stderr
    assert "permission s3 of the function" in r.stderr
    assert "arn:aws:s3:::theirs" in r.stderr
    assert aws.changes() == {}
    forced = remote(fn, aws, "push", "--aliases", "dev", "--force")
    assert forced.exit_code == 0, forced
    [st] = json.loads(aws.client.get_policy(FunctionName="hello")["Policy"])["Statement"]
    assert st["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::mine"
    assert remote(fn, aws, "push", "--aliases", "dev").json["Changes"] == 0
