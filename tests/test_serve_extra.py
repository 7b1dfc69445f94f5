"""``lambdaver serve``'s operations beyond lambda-semantics-2 §1.2 that Terraform's AWS
provider calls around a function (server/extra_api.py), through boto3: tags, reserved
concurrency, Role, code signing, runtime management, recursion and event invoke config,
each with its refusals; and the fields Terraform's waiters read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, Served, error, zip_of

from conftest import run_cli

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
APP = "def handler(event, context):\n    return {'ok': True}\n"

pytestmark = DROPPED_SOCKETS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


_counter = [0]


def create(lam: Any, **extra: Any) -> str:
    """CreateFunction as Terraform's aws_lambda_function sends it."""
    _counter[0] += 1
    name = f"tf{_counter[0]}"
    args: dict[str, Any] = {
        "FunctionName": name, "Runtime": "python3.12", "Handler": "app.handler", "Role": ROLE,
        "Code": {"ZipFile": zip_of({"app.py": APP})}, "Description": "", "MemorySize": 128,
        "Timeout": 3, "Publish": False, "PackageType": "Zip",
    }  # fmt: skip
    lam.create_function(**{**args, **extra})
    return name


def test_create_keeps_role_and_tags_and_get_function_returns_them(lam: Any) -> None:
    name = create(lam, Tags={"team": "a", "env": "dev"})
    got = lam.get_function(FunctionName=name)
    conf = got["Configuration"]
    assert conf["Role"] == ROLE
    # what Terraform's create/update waiters and its read look at
    assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful"
    assert conf["PackageType"] == "Zip" and conf["Architectures"] == ["x86_64"]
    assert got["Tags"] == {"team": "a", "env": "dev"}
    assert "Concurrency" not in got  # none reserved: Terraform reads -1
    assert lam.get_function_configuration(FunctionName=name)["Role"] == ROLE
    # ListVersionsByFunction: the latest version is its last item (Terraform's qualified_arn)
    versions = lam.list_versions_by_function(FunctionName=name, MaxItems=10000)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]


def test_update_configuration_keeps_a_new_role(lam: Any) -> None:
    name = create(lam)
    other = "arn:aws:iam::000000000000:role/other"
    out = lam.update_function_configuration(FunctionName=name, Role=other, Timeout=5)
    assert out["Role"] == other and out["Timeout"] == 5
    assert lam.get_function(FunctionName=name)["Configuration"]["Role"] == other
    out = lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert out["Role"] == other  # an update without Role keeps it
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_function_configuration(FunctionName="nope", Role=other)


def test_a_function_made_by_the_cli_has_no_role(lam: Any, project: Path) -> None:
    root = project / "clifn"
    root.mkdir()
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    got = lam.get_function(FunctionName="clifn")
    assert "Role" not in got["Configuration"] and "Tags" not in got
    assert lam.list_tags(Resource=ARN + "clifn")["Tags"] == {}


def test_tags(lam: Any) -> None:
    name = create(lam)
    arn = ARN + name
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2", "c": "3"})
    lam.tag_resource(Resource=arn, Tags={"a": "10"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "10", "b": "2", "c": "3"}
    lam.untag_resource(Resource=arn, TagKeys=["b", "c", "missing"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "10"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"a": "10"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName=name)


def test_tag_refusals(lam: Any) -> None:
    name = create(lam)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.list_tags(Resource=ARN + "nope")
    assert error(e) == ("ResourceNotFoundException", f"Function not found: {ARN}nope", 404)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.tag_resource(Resource=ARN + "nope", Tags={"a": "1"})
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.untag_resource(Resource=ARN + "nope", TagKeys=["a"])
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.tag_resource(Resource=ARN + name, Tags={"aws:x": "1"})
    assert error(e)[2] == 400
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.tag_resource(Resource=ARN + name, Tags={f"k{i}": "v" for i in range(51)})
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.list_tags(Resource=name)  # a name, not an ARN
    assert error(e)[0] == "ValidationException"
    assert lam.list_tags(Resource=ARN + name)["Tags"] == {}  # nothing kept from the refusals


def test_concurrency(lam: Any) -> None:
    name = create(lam)
    got = lam.get_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in got
    out = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert out["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    # kept, not enforced: an invocation still runs
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)


def test_concurrency_refusals(lam: Any) -> None:
    name = create(lam)
    for call in (
        lambda: lam.get_function_concurrency(FunctionName="nope"),
        lambda: lam.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1),
        lambda: lam.delete_function_concurrency(FunctionName="nope"),
    ):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
            call()
        assert error(e) == ("ResourceNotFoundException", f"Function not found: {ARN}nope", 404)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert "UnreservedConcurrentExecution" in error(e)[1]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName=name + ":1", ReservedConcurrentExecutions=1)
    assert "qualifier" in error(e)[1]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_fixed_answers(lam: Any) -> None:
    name = create(lam, Publish=True)
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == ""
    assert lam.get_function_code_signing_config(FunctionName=name)["FunctionName"] == name
    rm = lam.get_runtime_management_config(FunctionName=name)
    assert rm["UpdateRuntimeOn"] == "Auto" and rm["FunctionArn"] == ARN + name
    rm1 = lam.get_runtime_management_config(FunctionName=name, Qualifier="1")
    assert rm1["FunctionArn"] == ARN + name + ":1"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    out = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert out["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Sometimes")
    assert error(e)[0] == "ValidationException"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert error(e) == (
        "ResourceNotFoundException",
        f"The function {ARN}{name} doesn't have an EventInvokeConfig",
        404,
    )


@pytest.mark.parametrize(
    "op",
    ["get_function_code_signing_config", "get_runtime_management_config",
     "get_function_recursion_config", "get_function_event_invoke_config"],
)  # fmt: skip
def test_fixed_answers_of_a_missing_function(lam: Any, op: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        getattr(lam, op)(FunctionName="nope")
    assert error(e) == ("ResourceNotFoundException", f"Function not found: {ARN}nope", 404)


def test_runtime_management_of_a_missing_version(lam: Any) -> None:
    name = create(lam)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_runtime_management_config(FunctionName=name, Qualifier="7")
    assert error(e)[2] == 404


def test_wrong_method_on_an_extra_path(served: Served) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(  # noqa: S310 - our own server
        served.url + "/2020-06-30/functions/x/code-signing-config", method="DELETE"
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)  # noqa: S310
    try:
        assert e.value.code == 405
        assert e.value.headers["x-amzn-ErrorType"] == "MethodNotAllowedException"
    finally:
        e.value.close()
