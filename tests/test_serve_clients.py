"""The server beside the CLI and the aws CLI: one repository, two front ends, no restart,
no lost update; and ``aws --endpoint-url ... lambda`` run unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import Served, aws_cli_env, start

from conftest import run_cli

APP = "def handler(event, context):\n    return {'ok': True}\n"


@pytest.fixture
def fn_root(tmp_path: Path) -> Path:
    root = tmp_path / "proj" / "hello"
    root.mkdir(parents=True)
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    assert run_cli("-C", str(root), "publish", "--output", "json").exit_code == 0
    return root


@pytest.fixture
def served(fn_root: Path) -> Iterator[Served]:
    s = start(fn_root.parent)
    try:
        yield s
    finally:
        s.kill()


def cli(root: Path, *args: str) -> Any:
    r = run_cli("-C", str(root), "--output", "json", *args)
    assert r.exit_code == 0, r
    return r.json if r.stdout.strip() else None


def test_a_cli_change_is_seen_by_the_server_at_once(served: Served, fn_root: Path) -> None:
    lam = served.client()
    cli(fn_root, "alias", "create", "prod", "--version", "1")
    assert lam.get_alias(FunctionName="hello", Name="prod")["FunctionVersion"] == "1"
    (fn_root / "app.py").write_text(APP.replace("True", "False"))
    cli(fn_root, "publish")
    cli(fn_root, "alias", "update", "prod", "--version", "2")
    assert lam.get_alias(FunctionName="hello", Name="prod")["FunctionVersion"] == "2"
    versions = lam.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    out = lam.invoke(FunctionName="hello", Qualifier="prod")
    assert json.loads(out["Payload"].read()) == {"ok": False}
    # and the other way round
    lam.update_alias(FunctionName="hello", Name="prod", FunctionVersion="1")
    assert cli(fn_root, "alias", "get", "prod")["FunctionVersion"] == "1"


def test_revision_id_preconditions_hold_across_both(served: Served, fn_root: Path) -> None:
    lam = served.client()
    made = lam.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    cli(fn_root, "alias", "update", "live", "--revision-id", made["RevisionId"],
        "--description", "by the cli")  # fmt: skip
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName="hello", Name="live", RevisionId=made["RevisionId"])
    fresh = lam.get_alias(FunctionName="hello", Name="live")
    assert fresh["Description"] == "by the cli"
    latest = lam.get_function_configuration(FunctionName="hello")["RevisionId"]
    cli(fn_root, "config", "set", "--timeout", "7", "--revision-id", latest)
    r = run_cli("-C", str(fn_root), "config", "set", "--timeout", "8", "--revision-id", latest)
    assert r.exit_code == 254 and "PreconditionFailedException" in r.stderr
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName="hello", RevisionId=latest)
    now = lam.get_function_configuration(FunctionName="hello")
    assert now["Timeout"] == 7
    assert lam.publish_version(FunctionName="hello", RevisionId=now["RevisionId"])["Version"] == "2"


def test_the_aws_cli_runs_unchanged(served: Served, fn_root: Path, tmp_path: Path) -> None:
    cli(fn_root, "alias", "create", "prod", "--version", "1")
    env = {**aws_cli_env(tmp_path), "AWS_MAX_ATTEMPTS": "1"}
    base = [sys.executable, "-m", "awscli", "--endpoint-url", served.url, "lambda"]
    r = subprocess.run(
        [*base, "list-aliases", "--function-name", "hello"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert [a["Name"] for a in json.loads(r.stdout)["Aliases"]] == ["prod"]
    r = subprocess.run(
        [*base, "get-alias", "--function-name", "hello", "--name", "nope"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode in (254, 255)  # aws CLI v2 exits 254 on a service error, v1 255
    assert (
        "An error occurred (ResourceNotFoundException) when calling the GetAlias operation: "
        "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:hello:nope"
    ) in r.stderr
