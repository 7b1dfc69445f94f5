"""Event source mappings through the CLI: shapes, defaults, states, validation in AWS's
words (nothing changed by a refusal), other sources kept and listed, never fired."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Fn, run_cli

Q = "arn:aws:sqs:us-east-1:000000000000:orders"
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
KINESIS = "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"


@pytest.fixture
def prod(fn: Fn) -> Fn:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    fn.ok("queue", "create", "orders")
    return fn


def create(fn: Fn, *args: str) -> dict:
    return fn.ok("create-event-source-mapping", "--function-name", "hello:prod",
                 "--event-source-arn", Q, *args)  # fmt: skip


def test_create_get_update_delete(prod: Fn) -> None:
    made = create(prod)
    uuid = made["UUID"]
    assert made == {
        "UUID": uuid,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": Q,
        "FunctionArn": FN_ARN + ":prod",
        "LastModified": made["LastModified"],
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"
        + uuid,
    }
    assert isinstance(made["LastModified"], float)
    got = prod.ok("get-event-source-mapping", "--uuid", uuid)
    assert got["State"] == "Enabled"
    updated = prod.ok(
        "update-event-source-mapping", "--uuid", uuid, "--batch-size", "3", "--no-enabled",
        "--function-response-types", "ReportBatchItemFailures",
    )  # fmt: skip
    assert updated["State"] == "Updating"
    assert updated["BatchSize"] == 3
    assert updated["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert prod.ok("get-event-source-mapping", "--uuid", uuid)["State"] == "Disabled"
    listed = prod.ok("list-event-source-mappings")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert prod.ok("list-event-source-mappings", "--function-name", "hello:beta") == {
        "EventSourceMappings": []
    }
    deleted = prod.ok("delete-event-source-mapping", "--uuid", uuid)
    assert deleted["State"] == "Deleting"
    r = prod("get-event-source-mapping", "--uuid", uuid)
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (ResourceNotFoundException) when calling the "
        "GetEventSourceMapping operation: The resource you requested does not exist.\n"
    )


def test_cli_input_json_and_paging(prod: Fn) -> None:
    prod.ok("queue", "create", "other")
    made = prod.ok("create-event-source-mapping", "--cli-input-json", json.dumps({
        "FunctionName": "hello:prod", "EventSourceArn": Q, "BatchSize": 2, "Enabled": False,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }))  # fmt: skip
    assert made["BatchSize"] == 2
    assert made["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert prod.ok("get-event-source-mapping", "--uuid", made["UUID"])["State"] == "Disabled"
    create_other = prod.ok("create-event-source-mapping", "--function-name", "hello:prod",
                           "--event-source-arn", Q.replace("orders", "other"))  # fmt: skip
    first = prod.ok("list-event-source-mappings", "--max-items", "1")
    assert len(first["EventSourceMappings"]) == 1
    rest = prod.ok("list-event-source-mappings", "--starting-token", first["NextToken"])
    uuids = [m["UUID"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]]
    assert sorted(uuids) == sorted([made["UUID"], create_other["UUID"]])
    by_source = prod.ok("list-event-source-mappings", "--event-source-arn", Q)
    assert [m["UUID"] for m in by_source["EventSourceMappings"]] == [made["UUID"]]


def test_other_sources_are_kept_and_listed_never_fired(prod: Fn) -> None:
    made = prod.ok("create-event-source-mapping", "--function-name", "hello:prod",
                   "--event-source-arn", KINESIS, "--starting-position", "LATEST")  # fmt: skip
    assert made["BatchSize"] == 100
    assert made["StartingPosition"] == "LATEST"
    assert made["StateTransitionReason"] == "User action"
    listed = prod.ok("triggers", "list")["Triggers"]
    assert listed[0]["Type"] == "event-source-mapping:kinesis"
    assert listed[0]["State"] == "Kept (not fired)"
    assert prod.ok("triggers", "poll")["Deliveries"] == 0


def test_duplicate_mapping(prod: Fn) -> None:
    uuid = create(prod)["UUID"]
    r = prod("create-event-source-mapping", "--function-name", "hello:prod",
             "--event-source-arn", Q)  # fmt: skip
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (ResourceConflictException) when calling the "
        'CreateEventSourceMapping operation: An event source mapping with SQS arn (" '
        f'{Q} ") and function (" hello:prod ") already exists. Please update or delete the '
        f"existing mapping with UUID {uuid}\n"
    )
    # another alias of the same function is another mapping
    prod.ok("alias", "create", "beta", "--version", "1")
    prod.ok("create-event-source-mapping", "--function-name", "hello:beta",
            "--event-source-arn", Q)  # fmt: skip


def test_deleting_a_queue_with_mappings_is_refused_clearly(prod: Fn) -> None:
    uuid = create(prod)["UUID"]
    r = prod("queue", "delete", "orders")
    assert r.exit_code == 254
    assert f"Queue orders is the event source of event source mapping(s) {uuid}" in r.stderr
    assert "delete-event-source-mapping --uuid" in r.stderr
    prod.ok("delete-event-source-mapping", "--uuid", uuid)
    prod.ok("queue", "delete", "orders")


BAD = [
    (("--batch-size", "0"), "ValidationException",
     "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: "
     "Member must have value greater than or equal to 1"),
    (("--batch-size", "10001"), "ValidationException",
     "Member must have value less than or equal to 10000"),
    (("--batch-size", "11"), "InvalidParameterValueException",
     "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
     "greater than 10"),
    (("--maximum-batching-window-in-seconds", "301"), "ValidationException",
     "at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have "
     "value less than or equal to 300"),
    (("--function-response-types", "Nope"), "ValidationException",
     "Member must satisfy enum value set: [ReportBatchItemFailures]"),
    (("--starting-position", "LATEST"), "InvalidParameterValueException",
     "StartingPosition is not valid for SQS event sources."),
]  # fmt: skip


@pytest.mark.parametrize(("args", "code", "message"), BAD)
def test_bad_batch_values(
    prod: Fn, unchanged: object, args: tuple[str, ...], code: str, message: str
) -> None:
    with unchanged(prod.root):  # type: ignore[operator]
        r = prod("create-event-source-mapping", "--function-name", "hello:prod",
                 "--event-source-arn", Q, *args)  # fmt: skip
    assert r.exit_code == 254, r
    assert f"({code})" in r.stderr
    assert message in r.stderr


@pytest.mark.parametrize(
    ("function", "arn", "code", "message"),
    [
        ("hello:prod", "not-an-arn", "ValidationException",
         "Value 'not-an-arn' at 'eventSourceArn' failed to satisfy constraint: Member must "
         "satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*)"),
        ("hello:prod", "arn:aws:s3:::bucket", "InvalidParameterValueException",
         "Unrecognized event source."),
        ("hello:prod", KINESIS, "InvalidParameterValueException",
         "Value null at 'startingPosition' failed to satisfy constraint: Member must not be "
         "null."),
        ("hello:nope", Q, "InvalidParameterValueException", "Function does not exist"),
        ("missing:prod", Q, "InvalidParameterValueException", "Function does not exist"),
        ("hello:prod", "arn:aws:sqs:us-east-1:000000000000:absent",
         "InvalidParameterValueException", "AWS.SimpleQueueService.NonExistentQueue"),
        ("hello:prod", "arn:aws:sqs:eu-west-1:000000000000:orders",
         "InvalidParameterValueException", "is in region eu-west-1"),
    ],
)  # fmt: skip
def test_bad_functions_and_arns(
    prod: Fn, unchanged: object, function: str, arn: str, code: str, message: str
) -> None:
    with unchanged(prod.root):  # type: ignore[operator]
        r = prod("create-event-source-mapping", "--function-name", function,
                 "--event-source-arn", arn)  # fmt: skip
    assert r.exit_code == 254, r
    assert f"({code})" in r.stderr
    assert message in r.stderr


@pytest.mark.parametrize(
    ("verb", "uuid", "message"),
    [
        ("get-event-source-mapping", "abc",
         "Value 'abc' at 'uUID' failed to satisfy constraint: Member must have length "
         "greater than or equal to 36"),
        ("delete-event-source-mapping", "0" * 37, "Member must have length less than or "
         "equal to 36"),
        ("update-event-source-mapping", "00000000-0000-0000-0000-000000000000",
         "The resource you requested does not exist."),
    ],
)  # fmt: skip
def test_bad_uuids(prod: Fn, unchanged: object, verb: str, uuid: str, message: str) -> None:
    create(prod)
    with unchanged(prod.root):  # type: ignore[operator]
        r = prod(verb, "--uuid", uuid, *(["--batch-size", "1"] if verb.startswith("up") else []))
    assert r.exit_code == 254, r
    assert message in r.stderr


def test_from_a_project_root(tmp_path, prod: Fn) -> None:
    """From the project's root, --function-name selects the function and --uuid is
    looked up among every function's mappings."""
    uuid = create(prod)["UUID"]
    root = str(tmp_path)
    r = run_cli("-C", root, "--output", "json", "get-event-source-mapping", "--uuid", uuid)
    assert r.exit_code == 0, r
    assert r.json["FunctionArn"] == FN_ARN + ":prod"
    r = run_cli("-C", root, "--output", "json", "list-event-source-mappings",
                "--function-name", "hello")  # fmt: skip
    assert [m["UUID"] for m in r.json["EventSourceMappings"]] == [uuid]
