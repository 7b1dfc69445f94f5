"""Resource-based policies per qualifier: add-permission, get-policy, remove-permission
(lambda-semantics-2 §3), the policy check triggers use (service.policy.allows), and what
deleting an alias or a version does to its policy."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdaver.service import policy
from lambdaver.service.repository import Repository
from lambdaver.service.settings import Settings

from conftest import Fn

ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"


@pytest.fixture
def prod(fn: Fn) -> Fn:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def add(fn: Fn, sid: str, *extra: str, principal: str = "s3.amazonaws.com") -> Any:
    return fn.ok(
        "add-permission", "--statement-id", sid, "--action", "lambda:InvokeFunction",
        "--principal", principal, *extra,
    )  # fmt: skip


def statement(out: Any) -> dict[str, Any]:
    assert isinstance(out["Statement"], str)  # a JSON string, as AWS's
    return dict(json.loads(out["Statement"]))


def repo_of(fn: Fn) -> Repository:
    return Repository.discover(fn.root, Settings())


# --- the statement AWS builds -----------------------------------------------------------


def test_statement_shape_and_key_order(prod: Fn) -> None:
    out = add(
        prod, "s3", "--qualifier", "prod", "--source-arn", "arn:aws:s3:::bucket",
        "--source-account", "111111111111",
    )  # fmt: skip
    st = statement(out)
    assert list(st) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert st == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"{ARN}:prod",
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "111111111111"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
        },
    }
    assert list(st["Condition"]) == ["StringEquals", "ArnLike"]


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", "*"),
        ("s3.amazonaws.com", {"Service": "s3.amazonaws.com"}),
        ("123456789012", {"AWS": "arn:aws:iam::123456789012:root"}),
        ("arn:aws:iam::123456789012:role/r", {"AWS": "arn:aws:iam::123456789012:role/r"}),
    ],
)
def test_principals(fn: Fn, principal: str, expected: Any) -> None:
    st = statement(add(fn, "p", principal=principal))
    assert st["Principal"] == expected
    assert st["Resource"] == ARN  # unqualified
    assert "Condition" not in st


def test_url_auth_type_condition(prod: Fn) -> None:
    out = prod.ok(
        "add-permission", "--statement-id", "url", "--action", "lambda:InvokeFunctionUrl",
        "--principal", "*", "--function-url-auth-type", "NONE", "--qualifier", "prod",
    )  # fmt: skip
    assert statement(out)["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}


def test_get_policy_document(prod: Fn) -> None:
    add(prod, "a", "--qualifier", "prod")
    add(prod, "b", "--qualifier", "prod", principal="*")
    out = prod.ok("get-policy", "--qualifier", "prod")
    doc = json.loads(out["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert [s["Sid"] for s in doc["Statement"]] == ["a", "b"]  # insertion order
    # the alias's RevisionId is the policy's
    assert prod.ok("alias", "get", "prod")["RevisionId"] == out["RevisionId"]


def test_policies_are_per_qualifier(prod: Fn) -> None:
    """The same Sid on the function, version 1 and alias prod: three policies."""
    add(prod, "s3")
    add(prod, "s3", "--qualifier", "1")
    add(prod, "s3", "--function-name", "hello:prod")
    for q, resource in ((None, ARN), ("1", f"{ARN}:1"), ("prod", f"{ARN}:prod")):
        args = ["get-policy"] + (["--qualifier", q] if q else [])
        doc = json.loads(prod.ok(*args)["Policy"])
        assert [s["Resource"] for s in doc["Statement"]] == [resource]
    # a new version does not copy the unqualified policy
    prod.publish(**{"app.py": "def handler(e, c):\n    return 2\n"})
    r = prod("get-policy", "--qualifier", "2")
    assert r.exit_code == 254
    assert "The resource you requested does not exist." in r.stderr


def test_remove_last_statement_removes_policy(prod: Fn) -> None:
    add(prod, "a", "--qualifier", "prod")
    add(prod, "b", "--qualifier", "prod")
    assert prod.ok("remove-permission", "--statement-id", "a", "--qualifier", "prod") is None
    doc = json.loads(prod.ok("get-policy", "--qualifier", "prod")["Policy"])
    assert [s["Sid"] for s in doc["Statement"]] == ["b"]
    prod.ok("remove-permission", "--statement-id", "b", "--qualifier", "prod")
    r = prod("get-policy", "--qualifier", "prod")
    assert r.stderr.strip().endswith("The resource you requested does not exist.")


def test_revision_ids(prod: Fn) -> None:
    # no policy yet: the alias's own RevisionId is accepted
    rev = prod.ok("alias", "get", "prod")["RevisionId"]
    add(prod, "a", "--qualifier", "prod", "--revision-id", rev)
    current = prod.ok("get-policy", "--qualifier", "prod")["RevisionId"]
    assert current != rev
    r = prod(
        "add-permission", "--statement-id", "b", "--action", "lambda:InvokeFunction",
        "--principal", "*", "--qualifier", "prod", "--revision-id", rev,
    )  # fmt: skip
    assert r.exit_code == 254
    assert r.stderr.strip() == (
        "An error occurred (PreconditionFailedException) when calling the AddPermission "
        "operation: The Revision Id provided does not match the latest Revision Id. Call the "
        "GetPolicy API to retrieve the latest Revision Id"
    )
    r = prod(
        "remove-permission", "--statement-id", "a", "--qualifier", "prod", "--revision-id", rev
    )
    assert "PreconditionFailedException" in r.stderr
    prod.ok(
        "remove-permission", "--statement-id", "a", "--qualifier", "prod",
        "--revision-id", current,
    )  # fmt: skip
    # the unqualified function: $LATEST's RevisionId is accepted for the first statement
    latest = prod.ok("get-function-configuration")["RevisionId"]
    add(prod, "x", "--revision-id", latest)


# --- refusals: AWS's error and wording, nothing changed -------------------------------------


def V(value: str, field: str, pattern: str) -> str:
    return (
        "An error occurred (ValidationException) when calling the {op} operation: 1 validation "
        f"error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member "
        f"must satisfy regular expression pattern: {pattern}"
    )


NOT_FOUND_ALIAS = f"Cannot find alias arn: {ARN}:alias-doesnotexist"

BAD_ADDS: list[tuple[list[str], str]] = [
    (
        ["--statement-id", "example.com"],
        V("example.com", "statementId", "([a-zA-Z0-9-_]+)"),
    ),
    (
        ["--statement-id", "a" * 101],
        "An error occurred (ValidationException) when calling the {op} operation: 1 validation "
        f"error detected: Value '{'a' * 101}' at 'statementId' failed to satisfy constraint: "
        "Member must have length less than or equal to 100",
    ),
    (
        ["--principal", "invalid.nonaws.com"],
        "An error occurred (InvalidParameterValueException) when calling the {op} operation: "
        "The provided principal was invalid. Please check the principal and try again.",
    ),
    (["--principal", "a b"], V("a b", "principal", r"[^\s]+")),
    (
        ["--action", "lambda:Invoke:Function"],
        V("lambda:Invoke:Function", "action", "(lambda:[*]|lambda:[a-zA-Z]+|[*])"),
    ),
    (
        ["--source-arn", "arn:aws:s3"],
        V("arn:aws:s3", "sourceArn", policy.SOURCE_ARN_PATTERN),
    ),
    (["--source-account", "12345"], V("12345", "sourceAccount", r"\d{12}")),
    (
        ["--qualifier", "invalid-qualifier-with-?-char"],
        V(
            "invalid-qualifier-with-?-char",
            "qualifier",
            r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+",
        ),
    ),
    (
        ["--qualifier", "$LATEST"],
        "An error occurred (InvalidParameterValueException) when calling the {op} operation: "
        "We currently do not support adding policies for $LATEST.",
    ),
    (
        ["--qualifier", "42"],
        "An error occurred (ResourceNotFoundException) when calling the {op} operation: "
        f"Function not found: {ARN}:42",
    ),
    (
        ["--qualifier", "alias-doesnotexist"],
        "An error occurred (ResourceNotFoundException) when calling the {op} operation: "
        + NOT_FOUND_ALIAS,
    ),
    (
        ["--qualifier", "valid-with-$-but-doesnotexist"],
        "An error occurred (ResourceNotFoundException) when calling the {op} operation: "
        f"Function not found: {ARN}:valid-with-$-but-doesnotexist",
    ),
    (
        ["--function-name", "hello:prod", "--qualifier", "1"],
        "An error occurred (InvalidParameterValueException) when calling the {op} operation: "
        "The derived qualifier from the function name does not match the specified qualifier.",
    ),
    (
        ["--function-url-auth-type", "BASIC"],
        "An error occurred (ValidationException) when calling the {op} operation: 1 validation "
        "error detected: Value 'BASIC' at 'functionUrlAuthType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [NONE, AWS_IAM]",
    ),
    (
        ["--statement-id", "dup"],
        "An error occurred (ResourceConflictException) when calling the {op} operation: The "
        "statement id (dup) provided already exists. Please provide a new statement id, or "
        "remove the existing statement.",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ADDS)
def test_add_permission_refusals(
    prod: Fn, unchanged: Callable[[Path], Iterator[None]], args: list[str], message: str
) -> None:
    add(prod, "dup", "--qualifier", "prod")
    add(prod, "dup")
    given = dict(zip(args[::2], args[1::2], strict=True))
    options = {
        "--statement-id": "new", "--action": "lambda:InvokeFunction",
        "--principal": "s3.amazonaws.com", "--qualifier": "prod", **given,
    }  # fmt: skip
    if given.get("--statement-id") == "dup":
        options.pop("--qualifier")
    flat = [x for kv in options.items() for x in kv]
    with unchanged(prod.root):
        r = prod("add-permission", *flat)
    assert r.exit_code == 254, r
    assert r.stderr.strip() == message.replace("{op}", "AddPermission")


BAD_REMOVES: list[tuple[list[str], str]] = [
    (["--statement-id", "non-existent", "--qualifier", "prod"],
     "Statement non-existent is not found in resource policy."),
    (["--statement-id", "s3", "--qualifier", "1"],
     "No policy is associated with the given resource."),
    (["--statement-id", "s3", "--qualifier", "alias-doesnotexist"], NOT_FOUND_ALIAS),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_REMOVES)
def test_remove_permission_refusals(
    prod: Fn, unchanged: Callable[[Path], Iterator[None]], args: list[str], message: str
) -> None:
    add(prod, "s3", "--qualifier", "prod")
    with unchanged(prod.root):
        r = prod("remove-permission", *args)
    assert r.exit_code == 254, r
    assert r.stderr.strip() == (
        "An error occurred (ResourceNotFoundException) when calling the RemovePermission "
        f"operation: {message}"
    )


def test_get_policy_of_missing_version(prod: Fn) -> None:
    r = prod("get-policy", "--qualifier", "77")
    assert r.stderr.strip().endswith(": The resource you requested does not exist.")


# --- deleting an alias or a version deletes its policy --------------------------------------


def test_deleted_alias_takes_its_policy(prod: Fn) -> None:
    add(prod, "s3", "--qualifier", "prod")
    prod.ok("alias", "delete", "prod")
    prod.ok("alias", "create", "prod", "--version", "1")
    r = prod("get-policy", "--qualifier", "prod")
    assert "The resource you requested does not exist." in r.stderr
    add(prod, "s3", "--qualifier", "prod")  # no duplicate: the old statement is gone


def test_deleted_version_takes_its_policy(prod: Fn) -> None:
    prod.publish(**{"app.py": "def handler(e, c):\n    return 2\n"})
    add(prod, "s3", "--qualifier", "2")
    prod.ok("delete-function", "--qualifier", "2")
    assert policy.statements(repo_of(prod), "2") == []


def test_pruned_version_takes_its_policy(prod: Fn) -> None:
    prod.publish(**{"app.py": "def handler(e, c):\n    return 2\n"})
    prod.publish(**{"app.py": "def handler(e, c):\n    return 3\n"})
    add(prod, "s3", "--qualifier", "2")
    assert policy.statements(repo_of(prod), "2") != []
    assert prod.ok("versions", "prune", "--keep", "0", "--history-depth", "0")["Deleted"] == ["2"]
    assert policy.statements(repo_of(prod), "2") == []


# --- allows(): what triggers ask ------------------------------------------------------------


def test_allows_matches_principal_and_conditions(prod: Fn) -> None:
    add(
        prod, "s3", "--qualifier", "prod", "--source-arn", "arn:aws:s3:::my-*",
        "--source-account", "111111111111",
    )  # fmt: skip
    repo = repo_of(prod)
    ok = policy.allows(repo, "prod", "s3.amazonaws.com", "arn:aws:s3:::my-bucket", "111111111111")
    assert ok
    assert not policy.allows(repo, "prod", "s3.amazonaws.com", "arn:aws:s3:::other", "111111111111")
    assert not policy.allows(repo, "prod", "s3.amazonaws.com", "arn:aws:s3:::my-bucket", None)
    assert not policy.allows(repo, "prod", "sqs.amazonaws.com", "arn:aws:s3:::my-b", "111111111111")
    # only that qualifier's policy counts
    assert not policy.allows(repo, None, "s3.amazonaws.com", "arn:aws:s3:::my-b", "111111111111")
    assert not policy.allows(repo, "1", "s3.amazonaws.com", "arn:aws:s3:::my-b", "111111111111")


def test_allows_star_and_url_auth_type(prod: Fn) -> None:
    add(prod, "any", "--qualifier", "1", principal="*")
    prod.ok(
        "add-permission", "--statement-id", "url", "--action", "lambda:InvokeFunctionUrl",
        "--principal", "*", "--function-url-auth-type", "NONE", "--qualifier", "prod",
    )  # fmt: skip
    repo = repo_of(prod)
    assert policy.allows(repo, "1", "events.amazonaws.com")
    assert not policy.allows(repo, "prod", "*")  # InvokeFunctionUrl is not InvokeFunction
    url = {"action": "lambda:InvokeFunctionUrl"}
    assert policy.allows(repo, "prod", "*", url_auth_type="NONE", **url)
    assert not policy.allows(repo, "prod", "*", url_auth_type="AWS_IAM", **url)
    assert not policy.allows(repo, "prod", "*", **url)
