"""Terraform's AWS provider against ``lambdaver serve``: a function deleted through the
API can be created again under its name (``terraform destroy`` then ``apply``), through
boto3, always run; and a real ``terraform`` apply / plan / change / destroy cycle, run when
a ``terraform`` executable (``LAMBDAVER_TERRAFORM``, else on PATH) and a local copy of the
``hashicorp/aws`` provider (a filesystem mirror: ``LAMBDAVER_TF_PLUGINS``, else one of
the usual places) are found.  Terraform is never let near a registry: its CLI config
names the mirror as the only way to install a provider, and checkpoint is off."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, Served

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

pytestmark = DROPPED_SOCKETS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


def zip_bytes(version: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", f"def handler(event, context):\n    return {{'v': {version}}}\n")
    return buf.getvalue()


def test_a_deleted_function_can_be_created_again(lam: Any, served: Served, project: Path) -> None:
    def create(version: int) -> None:
        lam.create_function(
            FunctionName="again", Runtime="python3.12", Handler="app.handler", Role=ROLE,
            Code={"ZipFile": zip_bytes(version)},
        )  # fmt: skip

    create(1)
    lam.delete_function(FunctionName="again")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="again")
    # DeleteFunction left again/app.py; as on AWS, the name is free again
    assert (project / "again" / "app.py").exists()
    create(2)
    assert json.loads(lam.invoke(FunctionName="again")["Payload"].read()) == {"v": 2}
    (kept,) = [p for p in project.iterdir() if p.name.startswith("again.deleted-")]
    assert "'v': 1" in (kept / "app.py").read_text()  # the old files are kept, not removed
    assert any("held the files of a deleted function again" in line for line in served.lines)
    # a directory that no function left is still nobody's to replace
    (project / "mine").mkdir()
    (project / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function(
            FunctionName="mine", Runtime="python3.12", Handler="app.handler", Role=ROLE,
            Code={"ZipFile": zip_bytes(1)},
        )  # fmt: skip
    assert sorted(p.name for p in (project / "mine").iterdir()) == ["notes.txt"]


# --- terraform itself --------------------------------------------------------------------

PLUGIN_DIRS = (
    "~/.terraform.d/plugins", "/opt/tf-plugins", "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)  # fmt: skip


def terraform_executable() -> str | None:
    return os.environ.get("LAMBDAVER_TERRAFORM") or shutil.which("terraform")


def aws_provider_mirror() -> Path | None:
    given = os.environ.get("LAMBDAVER_TF_PLUGINS")
    for place in [given] if given else PLUGIN_DIRS:
        path = Path(place).expanduser()
        if any((path / "registry.terraform.io" / "hashicorp" / "aws").glob("*/linux_amd64/*")):
            return path
    return None


MAIN_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
variable "alias_version" { type = string }
variable "team" { type = string }
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "x"
  secret_key                  = "x"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    lambda = var.endpoint
    iam    = var.endpoint
    sts    = var.endpoint
  }
}
resource "aws_lambda_function" "hello" {
  function_name                  = "tfhello"
  filename                       = "${path.module}/fn.zip"
  source_code_hash               = filebase64sha256("${path.module}/fn.zip")
  runtime                        = "python3.12"
  handler                        = "app.handler"
  role                           = "arn:aws:iam::000000000000:role/lambda-role"
  publish                        = true
  memory_size                    = 256
  reserved_concurrent_executions = 5
  tags                           = { team = var.team }
  environment {
    variables = { GREETING = "hi" }
  }
}
resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.hello.function_name
  function_version = var.alias_version
}
resource "aws_lambda_permission" "url" {
  statement_id           = "url"
  action                 = "lambda:InvokeFunctionUrl"
  principal              = "*"
  function_name          = aws_lambda_function.hello.function_name
  qualifier              = aws_lambda_alias.live.name
  function_url_auth_type = "NONE"
}
resource "aws_lambda_function_url" "live" {
  function_name      = aws_lambda_function.hello.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = "NONE"
}
output "version" { value = aws_lambda_function.hello.version }
"""


def test_terraform_apply_plan_change_destroy(served: Served, lam: Any, tmp_path: Path) -> None:
    exe, mirror = terraform_executable(), aws_provider_mirror()
    if exe is None or mirror is None:
        pytest.skip(
            "terraform and a local hashicorp/aws provider are needed (LAMBDAVER_TERRAFORM, "
            "LAMBDAVER_TF_PLUGINS: a filesystem mirror holding registry.terraform.io/"
            "hashicorp/aws)"
        )
    (tmp_path / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
    )
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(MAIN_TF)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "cli.tfrc"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_VAR_endpoint": served.url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    def tf(*args: str, version: str = "1", team: str = "a") -> subprocess.CompletedProcess[str]:
        extra = [] if args[0] == "init" else ["-var", f"alias_version={version}",
                                              "-var", f"team={team}"]  # fmt: skip
        return subprocess.run(
            [exe, *args, "-no-color", *extra], cwd=config, env=env, capture_output=True,
            text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def ok(r: subprocess.CompletedProcess[str]) -> str:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r.stdout

    (config / "fn.zip").write_bytes(zip_bytes(1))
    ok(tf("init"))
    assert "Apply complete! Resources: 4 added" in ok(tf("apply", "-auto-approve"))
    assert lam.get_alias(FunctionName="tfhello", Name="live")["FunctionVersion"] == "1"
    got = lam.get_function(FunctionName="tfhello")
    assert got["Tags"] == {"team": "a"} and got["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    assert got["Configuration"]["Role"] == ROLE and got["Configuration"]["MemorySize"] == 256
    assert ok(tf("plan", "-detailed-exitcode")).count("No changes.") == 1  # exit 0: no diff

    # new code (published as version 2), the alias moved to it, a tag changed
    (config / "fn.zip").write_bytes(zip_bytes(2))
    out = ok(tf("apply", "-auto-approve", version="2", team="b"))
    assert "0 added, 2 changed, 0 destroyed" in out and 'version = "2"' in out
    assert json.loads(lam.invoke(FunctionName="tfhello:live")["Payload"].read()) == {"v": 2}
    assert lam.get_function(FunctionName="tfhello")["Tags"] == {"team": "b"}
    ok(tf("plan", "-detailed-exitcode", version="2", team="b"))

    assert "Resources: 4 destroyed" in ok(tf("destroy", "-auto-approve", version="2", team="b"))
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="tfhello")
    # and again, under the same name (a new function: its version 1)
    assert "4 added" in ok(tf("apply", "-auto-approve"))
    assert json.loads(lam.invoke(FunctionName="tfhello:live")["Payload"].read()) == {"v": 2}
    assert "Resources: 4 destroyed" in ok(tf("destroy", "-auto-approve"))
