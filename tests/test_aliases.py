"""Aliases: create/update/get/list/delete, weighted routing, history, rollback, promote,
their aws spellings, and the reliability rules (docs/aliases.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdaver.model.routing import java_double, java_map

from conftest import Fn, run_cli, snapshot

ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
RANGE = (
    "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
    "Member must have value greater than or equal to 0.0, Member must not be null]"
)
KEYS = (
    "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
    "Member must have length greater than or equal to 1, "
    "Member must satisfy regular expression pattern: [0-9]+]"
)


PATTERN = r"Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"


def error(op: str, code: str, message: str) -> str:
    return f"An error occurred ({code}) when calling the {op} operation: {message}\n"


def refused(fn: Fn, *args: str, input: str | None = None) -> str:
    """Run a command that must be refused (exit 254) and change nothing; its stderr."""
    before = snapshot(fn.root)
    r = fn(*args, input=input)
    assert r.exit_code == 254, r
    assert r.stdout == ""
    assert snapshot(fn.root) == before
    return r.stderr


@pytest.fixture
def fn3(fn: Fn) -> Fn:
    """``hello`` with versions 1, 2 and 3."""
    for i in (1, 2, 3):
        assert fn.publish(**{"app.py": f"def handler(event, context):\n    return {i}\n"}) == str(i)
    return fn


def history(fn: Fn, name: str = "prod") -> list[dict[str, Any]]:
    return list(fn.ok("alias", "history", name)["History"])


def points(conf: dict[str, Any]) -> tuple[str, dict[str, float], str]:
    weights = conf.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    return conf["FunctionVersion"], weights, conf["Description"]


# --- create, get, list, delete -------------------------------------------------------------


def test_create_result_is_an_alias_configuration(fn3: Fn) -> None:
    out = fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    assert list(out) == ["AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"]
    assert out["AliasArn"] == f"{ARN}:prod"
    assert (out["Name"], out["FunctionVersion"], out["Description"]) == ("prod", "1", "live")
    assert UUID_RE.fullmatch(out["RevisionId"])
    assert fn3.ok("alias", "get", "prod") == out
    assert fn3.ok("get-alias", "--name", "prod") == out


def test_aws_spellings_give_the_same_json(fn3: Fn) -> None:
    a = fn3.ok("create-alias", "--name", "prod", "--function-version", "1", "--description", "x")
    assert points(a) == ("1", {}, "x")
    b = fn3.ok(
        "update-alias", "--name", "prod", "--function-version", "2",
        "--routing-config", '{"AdditionalVersionWeights": {"1": 0.25}}',
    )  # fmt: skip
    assert points(b) == ("2", {"1": 0.25}, "x")
    assert b["RevisionId"] != a["RevisionId"]
    assert fn3.ok("list-aliases") == {"Aliases": [b]} == fn3.ok("alias", "list")
    assert fn3.ok("list-aliases", "--function-version", "2") == {"Aliases": [b]}
    r = fn3("delete-alias", "--name", "prod")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert fn3.ok("list-aliases") == {"Aliases": []}


def test_description_defaults_to_empty_and_latest_is_a_valid_target(fn: Fn) -> None:
    out = fn.ok("alias", "create", "dev", "--version", "$LATEST")
    assert points(out) == ("$LATEST", {}, "")


def test_function_name_is_checked(fn3: Fn) -> None:
    assert fn3.ok("alias", "create", "prod", "--version", "1", "--function-name", "hello")
    assert refused(fn3, "get-alias", "--name", "prod", "--function-name", "other") == error(
        "GetAlias", "ResourceNotFoundException", "Function not found: "
        "arn:aws:lambda:us-east-1:000000000000:function:other",
    )  # fmt: skip
    assert refused(fn3, "get-alias", "--name", "prod", "--function-name", "hello:1") == error(
        "GetAlias", "InvalidParameterValueException", "Cannot provide qualifier"
    )


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("123", PATTERN),
        ("$LATEST", PATTERN),
        ("bad.name", PATTERN),
        ("a" * 129, "Member must have length less than or equal to 128"),
        ("", "Member must have length greater than or equal to 1"),
    ],
)  # fmt: skip
def test_alias_names_follow_aws_pattern(fn3: Fn, name: str, constraint: str) -> None:
    message = (
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
    )
    for op, args in (
        ("CreateAlias", ["alias", "create", name, "--version", "1"]),
        ("CreateAlias", ["create-alias", "--name", name, "--function-version", "1"]),
        ("GetAlias", ["alias", "get", name]),
        ("UpdateAlias", ["alias", "update", name, "--version", "1"]),
        ("DeleteAlias", ["alias", "delete", name]),
    ):
        assert refused(fn3, *args) == error(op, "ValidationException", message + constraint)


def test_name_of_128_characters_and_mixed_digits_are_fine(fn3: Fn) -> None:
    assert fn3.ok("alias", "create", "a" * 128, "--version", "1")["Name"] == "a" * 128
    assert fn3.ok("alias", "create", "1a-_B", "--version", "1")["Name"] == "1a-_B"


def test_alias_points_at_a_version_never_an_alias_or_a_missing_one(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    assert refused(fn3, "alias", "create", "live", "--version", "prod") == error(
        "CreateAlias", "ValidationException",
        "1 validation error detected: Value 'prod' at 'functionVersion' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)",
    )  # fmt: skip
    assert refused(fn3, "alias", "create", "live", "--version", "9") == error(
        "CreateAlias", "ResourceNotFoundException", f"Function not found: {ARN}:9"
    )
    assert refused(fn3, "alias", "update", "prod", "--version", "9") == error(
        "UpdateAlias", "ResourceNotFoundException", f"Function not found: {ARN}:9"
    )
    assert refused(fn3, "alias", "update", "prod", "--version", "prod").startswith(
        "An error occurred (ValidationException) when calling the UpdateAlias operation: "
        "1 validation error detected: Value 'prod' at 'functionVersion'"
    )


def test_create_existing_alias_conflicts(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    assert refused(fn3, "alias", "create", "prod", "--version", "2") == error(
        "CreateAlias", "ResourceConflictException", f"Alias already exists: {ARN}:prod"
    )


def test_description_longer_than_256_is_refused(fn3: Fn) -> None:
    d = "d" * 257
    assert refused(fn3, "alias", "create", "prod", "--version", "1", "--description", d) == error(
        "CreateAlias", "ValidationException",
        f"1 validation error detected: Value '{d}' at 'description' failed to satisfy "
        "constraint: Member must have length less than or equal to 256",
    )  # fmt: skip


def test_missing_alias_get_update_delete_history(fn3: Fn) -> None:
    assert refused(fn3, "alias", "get", "prod") == error(
        "GetAlias", "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:prod"
    )
    assert refused(fn3, "get-alias", "--name", "prod") == error(
        "GetAlias", "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:prod"
    )
    assert refused(fn3, "alias", "update", "prod", "--version", "1") == error(
        "UpdateAlias", "ResourceNotFoundException", f"Alias not found: {ARN}:prod"
    )
    assert refused(fn3, "update-alias", "--name", "prod") == error(
        "UpdateAlias", "ResourceNotFoundException", f"Alias not found: {ARN}:prod"
    )
    assert refused(fn3, "alias", "history", "prod") == error(
        "GetAliasHistory", "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:prod"
    )
    before = snapshot(fn3.root)
    for args in (["alias", "delete", "prod"], ["delete-alias", "--name", "prod"]):
        r = fn3(*args)
        assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert snapshot(fn3.root) == before


def test_list_is_sorted_and_filters_by_primary_version_only(fn3: Fn) -> None:
    fn3.ok("alias", "create", "zeta", "--version", "2")
    fn3.ok("alias", "create", "alpha", "--version", "1", "--weight", "2=0.5")
    fn3.ok("alias", "create", "mid", "--version", "$LATEST")
    names = [a["Name"] for a in fn3.ok("alias", "list")["Aliases"]]
    assert names == ["alpha", "mid", "zeta"]
    assert [a["Name"] for a in fn3.ok("alias", "list", "--version", "2")["Aliases"]] == ["zeta"]
    assert [a["Name"] for a in fn3.ok("alias", "list", "--version", "1")["Aliases"]] == ["alpha"]
    assert [a["Name"] for a in fn3.ok("alias", "list", "--version", "$LATEST")["Aliases"]] == [
        "mid"
    ]
    assert fn3.ok("list-aliases", "--function-version", "3") == {"Aliases": []}
    assert refused(fn3, "alias", "list", "--version", "zeta").startswith(
        "An error occurred (ValidationException) when calling the ListAliases operation: "
        "1 validation error detected: Value 'zeta' at 'functionVersion'"
    )


def test_text_output_is_awss(fn3: Fn) -> None:
    out = fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    r = run_cli("-C", str(fn3.root), "alias", "get", "prod", "--output", "text")
    assert r.stdout == f"{ARN}:prod\tlive\t1\tprod\t{out['RevisionId']}\n"


# --- update --------------------------------------------------------------------------------


def test_update_changes_only_what_it_is_given(fn3: Fn) -> None:
    a = fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    b = fn3.ok("alias", "update", "prod", "--version", "2", "--weight", "1=0.9")
    assert points(b) == ("2", {"1": 0.9}, "live")
    c = fn3.ok("alias", "update", "prod", "--description", "canary")
    assert points(c) == ("2", {"1": 0.9}, "canary")  # weights kept without a routing option
    d = fn3.ok("alias", "update", "prod", "--version", "3")
    assert points(d) == ("3", {"1": 0.9}, "canary")
    e = fn3.ok("alias", "update", "prod")  # nothing given: only the RevisionId changes
    assert points(e) == points(d)
    f = fn3.ok("alias", "update", "prod", "--routing-config", "{}")
    assert points(f) == ("3", {}, "canary")
    assert "RoutingConfig" not in f
    g = fn3.ok("alias", "update", "prod", "--description", "")
    assert points(g) == ("3", {}, "")
    revisions = [x["RevisionId"] for x in (a, b, c, d, e, f, g)]
    assert len(set(revisions)) == len(revisions)


@pytest.mark.parametrize(
    "empty",
    ["{}", '{"AdditionalVersionWeights": {}}', "AdditionalVersionWeights={}"],
)
def test_empty_map_clears_the_weights(fn3: Fn, empty: str) -> None:
    fn3.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.5")
    out = fn3.ok("update-alias", "--name", "prod", "--routing-config", empty)
    assert "RoutingConfig" not in out
    assert "RoutingConfig" not in fn3.ok("alias", "get", "prod")


def test_moving_primary_onto_weighted_version_needs_the_weights_cleared(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1", "--weight", "2=0.1")
    assert refused(fn3, "alias", "update", "prod", "--version", "2") == error(
        "UpdateAlias", "InvalidParameterValueException",
        "Invalid function version 2. Function version 2 is already included in routing "
        "configuration.",
    )  # fmt: skip
    out = fn3.ok("alias", "update", "prod", "--version", "2", "--routing-config", "{}")
    assert points(out) == ("2", {}, "")


def test_revision_id_makes_update_conditional(fn3: Fn) -> None:
    rev = fn3.ok("alias", "create", "prod", "--version", "1")["RevisionId"]
    stale = fn3.ok("alias", "update", "prod", "--version", "2", "--revision-id", rev)
    assert refused(fn3, "alias", "update", "prod", "--version", "3", "--revision-id", rev) == (
        error("UpdateAlias", "PreconditionFailedException", PRECONDITION)
    )
    assert refused(
        fn3, "update-alias", "--name", "prod", "--function-version", "3", "--revision-id", rev
    ) == error("UpdateAlias", "PreconditionFailedException", PRECONDITION)
    out = fn3.ok("alias", "update", "prod", "--version", "3", "--revision-id", stale["RevisionId"])
    assert out["FunctionVersion"] == "3"


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--weight", "1=0.9"], None),
        (["--routing-config", '{"AdditionalVersionWeights": {"1": 0.9}}'], None),
        (["--routing-config", 'AdditionalVersionWeights={"1"=0.9}'], None),
        (["--routing-config", "AdditionalVersionWeights={1=0.9}"], None),
        (["--routing-config", " AdditionalVersionWeights = { 1 = 0.9 } "], None),
        (["--routing-config", "-"], '{"AdditionalVersionWeights": {"1": 0.9}}'),
        (["--routing-config", "-"], 'AdditionalVersionWeights={"1"=0.9}\n'),
        (["--routing-config", "file://ROUTING"], None),
    ],
)
def test_canary_forms(fn3: Fn, tmp_path: Path, args: list[str], stdin: str | None) -> None:
    routing = tmp_path / "routing.json"
    routing.write_text('{"AdditionalVersionWeights": {"1": 0.9}}')
    args = [a.replace("ROUTING", str(routing)) for a in args]
    fn3.ok("alias", "create", "prod", "--version", "1")
    out = fn3.ok("alias", "update", "prod", "--version", "2", *args, input=stdin)
    assert out["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.9}}
    if "--weight" not in args:
        fn3.ok("alias", "update", "prod", "--version", "1", "--routing-config", "{}")
        out = fn3.ok(
            "update-alias", "--name", "prod", "--function-version", "2", *args, input=stdin
        )
        assert out["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.9}}
        fn3.ok("alias", "delete", "prod")
        out = fn3.ok(
            "create-alias", "--name", "prod", "--function-version", "2", *args, input=stdin
        )
        assert out["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.9}}


@pytest.mark.parametrize("weight", ["0", "0.0", "1", "1.0", "0.5"])
def test_weights_from_zero_to_one_inclusive(fn3: Fn, weight: str) -> None:
    out = fn3.ok("alias", "create", "prod", "--version", "2", "--weight", f"1={weight}")
    assert out["RoutingConfig"] == {"AdditionalVersionWeights": {"1": float(weight)}}


def _ipve(op: str, message: str) -> str:
    return error(op, "InvalidParameterValueException", message)


def _range(value: str) -> str:
    return error(
        "CreateAlias", "ValidationException",
        f"1 validation error detected: Value '{value}' at "
        f"'routingConfig.additionalVersionWeights' failed to satisfy constraint: {RANGE}",
    )  # fmt: skip


def _keys(value: str) -> str:
    return error(
        "CreateAlias", "ValidationException",
        f"1 validation error detected: Value '{value}' at "
        f"'routingConfig.additionalVersionWeights' failed to satisfy constraint: {KEYS}",
    )  # fmt: skip


COUNT = "Number of items in AdditionalVersionWeights cannot be greater than 1"
LATEST_PRIMARY = "$LATEST is not supported for an alias pointing to more than 1 version"


@pytest.mark.parametrize(
    ("version", "routing", "expected"),
    [
        # one rule at a time
        ("1", '{"2": 0.1, "3": 0.1}', _ipve("CreateAlias", COUNT)),
        ("1", '{"2": 1.5}', _range("{2=1.5}")),
        ("1", '{"2": -1}', _range("{2=-1.0}")),
        ("1", '{"2": 2}', _range("{2=2.0}")),
        ("1", '{"2": -0.00001}', _range("{2=-1.0E-5}")),
        ("1", '{"1": 0.5}', _ipve("CreateAlias", "Invalid function version 1. Function version 1 "
                                  "is already included in routing configuration.")),
        ("$LATEST", '{"2": 0.5}', _ipve("CreateAlias", LATEST_PRIMARY)),
        ("1", '{"$LATEST": 0.5}', _keys("{$LATEST=0.5}")),
        ("1", '{"prod": 0.5}', _keys("{prod=0.5}")),
        ("1", '{"9": 0.5}', error("CreateAlias", "ResourceNotFoundException",
                                  f"Function not found: {ARN}:9")),
        # AWS's order: count, range, same-as-primary, $LATEST primary, key pattern, existence
        ("1", '{"1": 1.5, "x": 9}', _ipve("CreateAlias", COUNT)),
        ("1", '{"1": 1.5}', _range("{1=1.5}")),
        ("$LATEST", '{"$LATEST": 0.5}', _ipve("CreateAlias", "Invalid function version $LATEST. "
                                              "Function version $LATEST is already included in "
                                              "routing configuration.")),
        ("$LATEST", '{"x": 0.5}', _ipve("CreateAlias", LATEST_PRIMARY)),
        ("1", '{"x": 0.5}', _keys("{x=0.5}")),
    ],
)  # fmt: skip
def test_routing_rules_and_their_order(fn3: Fn, version: str, routing: str, expected: str) -> None:
    rc = json.dumps({"AdditionalVersionWeights": json.loads(routing)})
    args = ["alias", "create", "prod", "--version", version, "--routing-config", rc]
    assert refused(fn3, *args) == expected


def test_routing_rules_apply_to_update_too(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    assert refused(fn3, "alias", "update", "prod", "--weight", "2=0.5", "--weight", "3=0.1") == (
        _ipve("UpdateAlias", COUNT)
    )
    assert refused(fn3, "alias", "update", "prod", "--weight", "1=0.5") == _ipve(
        "UpdateAlias",
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration.",
    )
    assert refused(fn3, "alias", "update", "prod", "--version", "$LATEST", "--weight", "2=0.5") == (
        _ipve("UpdateAlias", LATEST_PRIMARY)
    )
    fn3.ok("alias", "update", "prod", "--weight", "2=0.5")
    # the kept weights are checked against a new primary too
    assert refused(fn3, "alias", "update", "prod", "--version", "$LATEST") == (
        _ipve("UpdateAlias", LATEST_PRIMARY)
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("nonsense", "expected AdditionalVersionWeights={VERSION=WEIGHT} or JSON"),
        ("{not json",
         "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ('{"Weights": {}}', 'Unknown parameter in RoutingConfig: "Weights", must be one of: '
                            "AdditionalVersionWeights"),
        ('{"AdditionalVersionWeights": {"2": "abc"}}',
         "invalid weight 'abc' for version 2: expected a number"),
        ('{"AdditionalVersionWeights": {"2": null}}',
         "invalid weight null for version 2: expected a number"),
        ("AdditionalVersionWeights={2}", "'2' is not VERSION=WEIGHT"),
        ("file:///nonexistent/routing.json",
         "Unable to load paramfile file:///nonexistent/routing.json: No such file or directory"),
    ],
)  # fmt: skip
def test_routing_config_parse_errors(fn3: Fn, value: str, reason: str) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    stderr = refused(fn3, "alias", "update", "prod", "--routing-config", value)
    if value.startswith("file://"):
        assert stderr == _ipve("UpdateAlias", "Error parsing parameter: " + reason)
    else:
        assert stderr == _ipve(
            "UpdateAlias", "Error parsing parameter '--routing-config': " + reason
        )


def test_weight_option_usage_errors(fn3: Fn) -> None:
    for args in (
        ["--weight", "2"],
        ["--weight", "2=abc"],
        ["--weight", "2=0.1", "--routing-config", "{}"],
    ):
        before = snapshot(fn3.root)
        r = fn3("alias", "create", "prod", "--version", "1", *args)
        assert r.exit_code == 2, r
        assert snapshot(fn3.root) == before
    assert "'2' is not VERSION=WEIGHT" in fn3("alias", "create", "p", "--version", "1",
                                              "--weight", "2").stderr  # fmt: skip


def test_java_double_rendering() -> None:
    assert [java_double(x) for x in (2.0, -1.0, 0.1, 1.5, 0.0, -0.0, 1e-5, -1e-5)] == [
        "2.0", "-1.0", "0.1", "1.5", "0.0", "-0.0", "1.0E-5", "-1.0E-5",
    ]  # fmt: skip
    assert java_double(12345678.0) == "1.2345678E7"
    assert java_double(1e20) == "1.0E20"
    assert java_double(0.001) == "0.001"
    assert java_double(float("nan")) == "NaN"
    assert java_double(float("inf")) == "Infinity"
    assert java_map({"2": 2, "3": 0.5}) == "{2=2.0, 3=0.5}"


# --- history, rollback, promote ---------------------------------------------------------------


def test_history_is_every_state_newest_first(fn3: Fn) -> None:
    a = fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    b = fn3.ok("alias", "update", "prod", "--version", "2", "--weight", "1=0.9")
    c = fn3.ok("alias", "update", "prod", "--version", "2", "--routing-config", "{}")
    h = history(fn3)
    assert [e["Change"] for e in h] == ["update", "update", "create"]
    for entry, state in zip(h, (c, b, a), strict=True):
        assert TIME_RE.fullmatch(entry.pop("ChangedAt"))
        entry.pop("Change")
        assert entry == state
    assert [e["ChangedAt"] for e in history(fn3)] == sorted(
        (e["ChangedAt"] for e in history(fn3)), reverse=True
    )


def test_rollback_is_an_undo_stack_not_a_toggle(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    fn3.ok("alias", "update", "prod", "--version", "2", "--weight", "1=0.9", "--description", "c")
    three = fn3.ok("alias", "update", "prod", "--version", "3", "--routing-config", "{}")
    back1 = fn3.ok("rollback", "prod")
    assert points(back1) == ("2", {"1": 0.9}, "c")
    assert back1["RevisionId"] != three["RevisionId"]
    assert fn3.ok("alias", "get", "prod") == back1
    back2 = fn3.ok("rollback", "prod")
    assert points(back2) == ("1", {}, "live")
    assert "RoutingConfig" not in back2
    assert refused(fn3, "rollback", "prod") == _ipve(
        "RollbackAlias", "Alias prod has no earlier state to roll back to"
    )
    h = history(fn3)
    assert [(e["Change"], e["FunctionVersion"]) for e in h] == [
        ("rollback", "1"), ("rollback", "2"), ("update", "3"), ("update", "2"), ("create", "1"),
    ]  # fmt: skip
    assert h[0]["RevisionId"] == back2["RevisionId"]


def test_a_change_after_a_rollback_can_be_undone(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    fn3.ok("alias", "update", "prod", "--version", "2")
    fn3.ok("rollback", "prod")  # -> 1
    fn3.ok("alias", "update", "prod", "--version", "3")
    assert fn3.ok("rollback", "prod")["FunctionVersion"] == "1"  # undoes the update to 3
    assert refused(fn3, "rollback", "prod").endswith("no earlier state to roll back to\n")


def test_rollback_of_a_new_alias_is_refused(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    assert refused(fn3, "rollback", "prod") == _ipve(
        "RollbackAlias", "Alias prod has no earlier state to roll back to"
    )
    assert refused(fn3, "rollback", "nope") == error(
        "RollbackAlias", "ResourceNotFoundException", f"Alias not found: {ARN}:nope"
    )


def test_rollback_to_version(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1", "--description", "live")
    fn3.ok("alias", "update", "prod", "--version", "2", "--weight", "1=0.5")
    out = fn3.ok("rollback", "prod", "--to-version", "3")
    assert points(out) == ("3", {}, "live")
    assert history(fn3)[0]["Change"] == "rollback"
    assert points(fn3.ok("rollback", "prod")) == ("2", {"1": 0.5}, "live")  # undoable
    assert refused(fn3, "rollback", "prod", "--to-version", "9") == error(
        "RollbackAlias", "ResourceNotFoundException", f"Function not found: {ARN}:9"
    )
    assert refused(fn3, "rollback", "prod", "--to-version", "prod").startswith(
        "An error occurred (ValidationException) when calling the RollbackAlias operation: "
        "1 validation error detected: Value 'prod' at 'functionVersion'"
    )


def test_rollback_honours_revision_id(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    rev = fn3.ok("alias", "update", "prod", "--version", "2")["RevisionId"]
    assert refused(fn3, "rollback", "prod", "--revision-id", "stale") == error(
        "RollbackAlias", "PreconditionFailedException", PRECONDITION
    )
    assert fn3.ok("rollback", "prod", "--revision-id", rev)["FunctionVersion"] == "1"


def test_rollback_to_a_deleted_version_says_what_is_gone_and_the_way_forward(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    fn3.ok("alias", "update", "prod", "--version", "2")
    fn3.ok("versions", "delete", "1")
    at = history(fn3)[1]["ChangedAt"]
    assert refused(fn3, "rollback", "prod") == error(
        "RollbackAlias",
        "ResourceNotFoundException",
        f"Cannot roll back alias prod: its previous state (of {at}) uses version 1, deleted "
        "since; point it at an existing version with 'lambdaver rollback prod --to-version V'",
    )
    assert points(fn3.ok("rollback", "prod", "--to-version", "3")) == ("3", {}, "")  # the way out
    fn3.ok("alias", "update", "prod", "--version", "3", "--weight", "2=0.1")
    fn3.ok("alias", "update", "prod", "--version", "3", "--routing-config", "{}")
    fn3.ok("versions", "delete", "2")
    assert "uses version 2, deleted since" in refused(fn3, "rollback", "prod")  # a weighted one


def test_an_update_that_changes_nothing_adds_no_history(fn3: Fn) -> None:
    """make promote-prod; make promote-prod; make rollback-prod: prod is back where it was."""
    fn3.ok("alias", "create", "qa", "--version", "2")
    fn3.ok("alias", "create", "prod", "--version", "1")
    first = fn3.ok("promote", "qa", "prod")
    second = fn3.ok("promote", "qa", "prod")  # nothing to change
    assert second["RevisionId"] != first["RevisionId"]  # it still rotates, as AWS's does
    assert fn3.ok("alias", "get", "prod") == second
    same = fn3.ok("alias", "update", "prod", "--version", "2")
    assert same["RevisionId"] != second["RevisionId"]
    assert [(e["Change"], e["FunctionVersion"]) for e in history(fn3)] == [
        ("update", "2"), ("create", "1"),
    ]  # fmt: skip
    assert points(fn3.ok("rollback", "prod")) == ("1", {}, "")  # undoes the promotion


def test_promote_onto_a_missing_alias_is_refused_unless_create(fn3: Fn, unchanged: Any) -> None:
    fn3.ok("alias", "create", "qa", "--version", "2")
    fn3.ok("alias", "create", "prod", "--version", "1")
    with unchanged(fn3.root):
        assert refused(fn3, "promote", "qa", "prdo") == error(
            "PromoteAlias",
            "ResourceNotFoundException",
            f"Alias not found: {ARN}:prdo. Did you mean 'prod'? Use --create to create alias prdo",
        )
        assert refused(fn3, "promote", "qa", "staging").endswith(
            f"Alias not found: {ARN}:staging. Use --create to create alias staging\n"
        )
    assert points(fn3.ok("promote", "qa", "staging", "--create")) == ("2", {}, "")


def test_promote_pipeline(fn3: Fn) -> None:
    fn3.ok("alias", "create", "dev", "--version", "3", "--weight", "2=0.2")
    qa = fn3.ok("alias", "create", "qa", "--version", "1", "--description", "qa env")
    out = fn3.ok("promote", "dev", "qa")
    assert points(out) == ("3", {"2": 0.2}, "qa env")  # what dev points to; qa's description
    assert out["RevisionId"] != qa["RevisionId"]
    top = history(fn3, "qa")[0]
    assert (top["Change"], top["PromotedFrom"]) == ("update", "dev")
    created = fn3.ok("promote", "qa", "prod", "--create")  # prod does not exist yet
    assert points(created) == ("3", {"2": 0.2}, "")
    assert [(e["Change"], e.get("PromotedFrom")) for e in history(fn3, "prod")] == [
        ("create", "qa")
    ]
    assert points(fn3.ok("rollback", "qa")) == ("1", {}, "qa env")  # a promote can be undone
    withdesc = fn3.ok("promote", "dev", "qa", "--description", "promoted")
    assert points(withdesc) == ("3", {"2": 0.2}, "promoted")


def test_promote_refusals(fn3: Fn) -> None:
    fn3.ok("alias", "create", "dev", "--version", "2")
    fn3.ok("alias", "create", "qa", "--version", "1")
    assert refused(fn3, "promote", "nope", "qa") == error(
        "PromoteAlias", "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:nope"
    )
    assert refused(fn3, "promote", "dev", "dev") == _ipve(
        "PromoteAlias", "Cannot promote alias dev onto itself"
    )
    assert refused(fn3, "promote", "dev", "qa", "--revision-id", "stale") == error(
        "PromoteAlias", "PreconditionFailedException", PRECONDITION
    )
    assert refused(fn3, "promote", "dev", "prod", "--revision-id", "x") == error(
        "PromoteAlias", "ResourceNotFoundException", f"Alias not found: {ARN}:prod"
    )
    assert refused(fn3, "promote", "dev", "123").startswith(
        "An error occurred (ValidationException) when calling the PromoteAlias operation: "
        "1 validation error detected: Value '123' at 'name'"
    )


def test_delete_removes_history(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    fn3.ok("alias", "update", "prod", "--version", "2")
    fn3.ok("alias", "delete", "prod")
    fn3.ok("alias", "create", "prod", "--version", "3")
    assert [e["Change"] for e in history(fn3)] == ["create"]
    assert refused(fn3, "rollback", "prod").endswith("no earlier state to roll back to\n")


# --- versions and aliases ----------------------------------------------------------------------


def test_versions_list_and_show_name_the_aliases(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.1")
    fn3.ok("alias", "create", "beta", "--version", "2")
    fn3.ok("alias", "create", "dev", "--version", "$LATEST")
    listed = {v["Version"]: v["Aliases"] for v in fn3.ok("versions", "list")["Versions"]}
    assert listed == {"$LATEST": ["dev"], "1": ["prod"], "2": ["beta", "prod"], "3": []}
    assert fn3.ok("versions", "show", "1")["Aliases"] == ["prod"]
    assert fn3.ok("versions", "show", "2")["Aliases"] == ["beta", "prod"]
    assert fn3.ok("versions", "show", "3")["Aliases"] == []
    r = run_cli("-C", str(fn3.root), "versions", "list", "--output", "table")
    assert r.exit_code == 0
    header = next(line for line in r.stdout.splitlines() if "│ Version" in line)
    assert "Aliases" in header
    row2 = next(line for line in r.stdout.splitlines() if line.startswith("│ 2 "))
    assert "beta, prod" in row2


def test_version_used_by_an_alias_cannot_be_deleted(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.1")
    fn3.ok("alias", "create", "beta", "--version", "2")
    msg = "Unable to delete version because the following aliases reference it: "
    assert refused(fn3, "versions", "delete", "2") == error(
        "DeleteFunction", "ResourceConflictException", msg + "[beta, prod]"
    )
    assert refused(fn3, "delete-function", "--qualifier", "1") == error(
        "DeleteFunction",
        "ResourceConflictException",
        msg + "[prod]",  # used by weight only
    )
    fn3.ok("alias", "update", "prod", "--routing-config", "{}")
    assert fn3("versions", "delete", "1").exit_code == 0


def test_help_ends_with_examples_and_exit_statuses() -> None:
    for verb in (
        ["alias", "create"], ["alias", "update"], ["alias", "get"], ["alias", "list"],
        ["alias", "delete"], ["alias", "history"], ["rollback"], ["promote"],
        ["create-alias"], ["update-alias"], ["get-alias"], ["list-aliases"], ["delete-alias"],
    ):  # fmt: skip
        r = run_cli(*verb, "--help")
        assert r.exit_code == 0, r
        assert "Examples:\n    lambdaver " in r.stdout
        assert r.stdout.rstrip().endswith("255 internal error.")


# --- the library, without click ---------------------------------------------------------------


def _repo(fn: Fn) -> Any:
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import load_settings

    return Repository.discover(fn.root, load_settings())


def test_service_is_usable_without_click(fn3: Fn) -> None:
    from lambdaver.service import aliases

    repo = _repo(fn3)
    out = aliases.create_alias(repo, "prod", "1", description="live", weights={"2": 0.25})
    assert points(out.to_aws()) == ("1", {"2": 0.25}, "live")
    assert aliases.get_alias(repo, "prod") == out
    out = aliases.update_alias(repo, "prod", weights={})
    assert points(out.to_aws()) == ("1", {}, "live")
    assert aliases.list_aliases(repo, "1").to_aws() == {"Aliases": [out.to_aws()]}
    assert points(aliases.rollback(repo, "prod").to_aws()) == ("1", {"2": 0.25}, "live")
    assert [e["Change"] for e in aliases.alias_history(repo, "prod").to_aws()["History"]] == [
        "rollback", "update", "create",
    ]  # fmt: skip
    aliases.delete_alias(repo, "prod")
    assert aliases.list_aliases(repo).to_aws() == {"Aliases": []}


def test_a_change_and_its_history_entry_are_one_atomic_step(
    fn3: Fn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdaver.service import aliases
    from lambdaver.storage.metadata import MetaStore

    fn3.ok("alias", "create", "prod", "--version", "1")
    state = fn3.ok("alias", "get", "prod")
    before = snapshot(fn3.root)

    def crash(*_args: object, **_kw: object) -> int:
        raise KeyboardInterrupt  # the process dies between the ref move and the log line

    monkeypatch.setattr(MetaStore, "log_append", crash)
    repo = _repo(fn3)
    for change in (
        lambda: aliases.update_alias(repo, "prod", function_version="2"),
        lambda: aliases.create_alias(repo, "beta", "2"),
        lambda: aliases.rollback(repo, "prod", to_version="3"),
        lambda: aliases.promote(repo, "prod", "qa", create=True),
    ):
        with pytest.raises(KeyboardInterrupt):
            change()
    repo.meta.close()
    monkeypatch.undo()
    assert snapshot(fn3.root) == before
    assert fn3.ok("alias", "get", "prod") == state
    assert fn3.ok("alias", "list") == {"Aliases": [state]}
    assert len(history(fn3)) == 1


# --- concurrency: real processes -------------------------------------------------------------


def _spawn(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lambdaver", "-C", str(root), "--output", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_racing_conditional_updates_exactly_one_wins(fn3: Fn) -> None:
    rev = fn3.ok("alias", "create", "prod", "--version", "1")["RevisionId"]
    version, entries = "1", 1
    for _round in range(3):
        procs = [
            _spawn(fn3.root, "update-alias", "--name", "prod", "--function-version", v,
                   "--revision-id", rev)
            for v in ("2", "3")
        ]  # fmt: skip
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        winners = [r for r in results if r[0] == 0]
        losers = [r for r in results if r[0] != 0]
        assert len(winners) == 1, results
        assert losers[0][0] == 254
        assert losers[0][2] == error("UpdateAlias", "PreconditionFailedException", PRECONDITION)
        won = json.loads(winners[0][1])
        assert fn3.ok("alias", "get", "prod") == won
        if won["FunctionVersion"] != version:  # an update that changes nothing is no entry
            version, entries = won["FunctionVersion"], entries + 1
        assert len(history(fn3)) == entries
        rev = won["RevisionId"]


def test_concurrent_unconditional_updates_lose_nothing(fn3: Fn) -> None:
    fn3.ok("alias", "create", "prod", "--version", "1")
    n = 6
    procs = [
        _spawn(fn3.root, "alias", "update", "prod", "--description", f"d{i}") for i in range(n)
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.communicate()
        p.communicate()
    h = history(fn3)
    assert len(h) == n + 1
    assert sorted(e["Description"] for e in h[:n]) == [f"d{i}" for i in range(n)]
    assert len({e["RevisionId"] for e in h}) == n + 1
    assert fn3.ok("alias", "get", "prod")["Description"] == h[0]["Description"]


CRASH_SCRIPT = """
import os, sys
from lambdaver.storage.metadata import MetaStore

def crash(*args, **kw):
    os._exit(9)  # the process dies after the ref moved, before the log line and the commit

MetaStore.log_append = crash
from lambdaver.cli.main import main
main(sys.argv[1:])
"""


def test_a_process_killed_mid_change_leaves_both_or_neither(fn3: Fn) -> None:
    state = fn3.ok("alias", "create", "prod", "--version", "1")
    for args in (
        ["alias", "update", "prod", "--version", "2"],
        ["alias", "create", "beta", "--version", "2"],
        ["rollback", "prod", "--to-version", "3"],
    ):
        p = subprocess.run(
            [sys.executable, "-c", CRASH_SCRIPT, "-C", str(fn3.root), *args],
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert p.returncode == 9, p
        assert fn3.ok("alias", "list") == {"Aliases": [state]}
        assert [e["RevisionId"] for e in history(fn3)] == [state["RevisionId"]]
    # and the repository still takes changes
    assert fn3.ok("alias", "update", "prod", "--version", "2")["FunctionVersion"] == "2"
    assert len(history(fn3)) == 2
