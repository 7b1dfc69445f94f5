"""Delivery by ``triggers poll``: batches, visibility timeout, dead-letter queue,
ReportBatchItemFailures, the alias's weights, promotion and rollback without touching the
mapping, a disabled mapping, a deleted alias; each delivery's log names its trigger."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Fn

Q = "arn:aws:sqs:us-east-1:000000000000:"

HANDLER = """\
VERSION = "{version}"

def handler(event, context):
    failures = []
    for r in event["Records"]:
        print("body", r["body"], "count", r["attributes"]["ApproximateReceiveCount"])
        if "fail" in r["body"]:
            raise Exception("failed on purpose")
        if "bad" in r["body"]:
            failures.append({{"itemIdentifier": r["messageId"]}})
    return {{"version": VERSION, "batchItemFailures": failures}}
"""


@pytest.fixture
def prod(fn: Fn) -> Fn:
    fn.publish(**{"app.py": HANDLER.format(version="1")})
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def mapping(fn: Fn, queue: str, *args: str) -> str:
    return str(fn.ok("create-event-source-mapping", "--function-name", "hello:prod",
                     "--event-source-arn", Q + queue, *args)["UUID"])  # fmt: skip


def counts(fn: Fn, queue: str) -> tuple[int, int]:
    for q in fn.ok("queue", "list")["Queues"]:
        if q["QueueName"] == queue:
            a = q["Attributes"]
            return int(a["ApproximateNumberOfMessages"]), int(
                a["ApproximateNumberOfMessagesNotVisible"]
            )
    raise AssertionError(queue)


def deliveries(fn: Fn) -> list[dict]:
    return [e for e in fn.ok("logs")["Events"] if e.get("Trigger")]


def test_batches_are_delivered_and_deleted(prod: Fn) -> None:
    prod.ok("queue", "create", "q")
    uuid = mapping(prod, "q", "--batch-size", "2")
    for i in range(5):
        prod.ok("queue", "send", "q", f"m{i}")
    summary = prod.ok("triggers", "poll")
    assert summary == {"Deliveries": 3, "Messages": 5, "Failures": 0, "FailedMessages": 0,
                       "Events": 0, "FailedEvents": 0, "Problems": []}  # fmt: skip
    assert counts(prod, "q") == (0, 0)
    logged = deliveries(prod)
    assert [e["Trigger"] for e in logged] == [f"sqs:{Q}q via ESM {uuid}"] * 3
    assert all(e["Qualifier"] == "prod" and e["ExecutedVersion"] == "1" for e in logged)
    assert "body m0 count 1" in logged[0]["Log"]
    assert prod.ok("triggers", "poll")["Deliveries"] == 0


def test_a_failed_batch_reappears_after_the_visibility_timeout(prod: Fn) -> None:
    prod.ok("queue", "create", "q", "--visibility-timeout", "1")
    mapping(prod, "q")
    prod.ok("queue", "send", "q", "fail once")
    first = prod.ok("triggers", "poll")
    assert (first["Deliveries"], first["Failures"]) == (1, 1)
    assert counts(prod, "q") == (0, 1)  # invisible: not pending
    assert prod.ok("triggers", "poll")["Deliveries"] == 0
    time.sleep(1.1)
    assert prod.ok("triggers", "poll")["Failures"] == 1
    assert "count 2" in deliveries(prod)[-1]["Log"]
    assert deliveries(prod)[-1]["ErrorType"] == "Exception"


def test_dead_letter_queue_after_max_receive_count(prod: Fn) -> None:
    prod.ok("queue", "create", "dlq")
    prod.ok("queue", "create", "q", "--visibility-timeout", "0", "--dead-letter-queue", "dlq",
            "--max-receive-count", "2")  # fmt: skip
    mapping(prod, "q")
    mid = prod.ok("queue", "send", "q", "fail always")["MessageId"]
    prod.ok("queue", "send", "q", "fine")
    assert prod.ok("triggers", "poll")["Messages"] == 2  # one batch of both: it fails
    assert prod.ok("triggers", "poll")["Messages"] == 2
    # both were received twice: the third receive moves them to the dead-letter queue
    assert prod.ok("triggers", "poll")["Deliveries"] == 0
    moved = prod.ok("queue", "receive", "dlq", "--max-messages", "10")["Messages"]
    assert mid in [m["MessageId"] for m in moved]
    assert counts(prod, "q") == (0, 0)


def test_report_batch_item_failures(prod: Fn) -> None:
    prod.ok("queue", "create", "q", "--visibility-timeout", "0")
    mapping(prod, "q", "--function-response-types", "ReportBatchItemFailures")
    bad = prod.ok("queue", "send", "q", "bad one")["MessageId"]
    for body in ("good 1", "good 2"):
        prod.ok("queue", "send", "q", body)
    summary = prod.ok("triggers", "poll")
    assert (summary["Deliveries"], summary["FailedMessages"]) == (1, 1)
    left = prod.ok("queue", "receive", "q", "--max-messages", "10")["Messages"]
    assert [m["MessageId"] for m in left] == [bad]


def test_without_report_batch_item_failures_the_whole_batch_is_deleted(prod: Fn) -> None:
    prod.ok("queue", "create", "q", "--visibility-timeout", "0")
    mapping(prod, "q")
    prod.ok("queue", "send", "q", "bad one")
    prod.ok("triggers", "poll")
    assert counts(prod, "q") == (0, 0)


def test_weights_promotion_and_rollback_need_no_change_to_the_mapping(prod: Fn) -> None:
    prod.publish(**{"app.py": HANDLER.format(version="2")})
    prod.ok("queue", "create", "q")
    uuid = mapping(prod, "q", "--batch-size", "1")
    before = prod.ok("get-event-source-mapping", "--uuid", uuid)

    def run(n: int) -> set[str]:
        for i in range(n):
            prod.ok("queue", "send", "q", f"m{i}")
        start = len(deliveries(prod))
        prod.ok("triggers", "poll")
        return {e["ExecutedVersion"] for e in deliveries(prod)[start:]}

    prod.ok("alias", "update", "prod", "--version", "1", "--weight", "2=0.5")
    assert run(24) == {"1", "2"}  # 2**-23 odds of a false failure
    prod.ok("alias", "update", "prod", "--version", "2", "--routing-config", "{}")
    assert run(3) == {"2"}
    prod.ok("rollback", "prod")
    assert run(24) == {"1", "2"}  # back to the weighted state
    prod.ok("rollback", "prod")
    assert run(3) == {"1"}
    assert prod.ok("get-event-source-mapping", "--uuid", uuid) == before


def test_a_disabled_mapping_delivers_nothing(prod: Fn) -> None:
    prod.ok("queue", "create", "q")
    uuid = mapping(prod, "q", "--no-enabled")
    prod.ok("queue", "send", "q", "waiting")
    assert prod.ok("triggers", "poll")["Deliveries"] == 0
    assert counts(prod, "q") == (1, 0)
    prod.ok("update-event-source-mapping", "--uuid", uuid, "--enabled")
    assert prod.ok("triggers", "poll")["Messages"] == 1


def test_a_deleted_alias_fails_the_mapping_with_a_clear_log_entry(prod: Fn) -> None:
    prod.ok("queue", "create", "q", "--visibility-timeout", "30")
    uuid = mapping(prod, "q")
    prod.ok("alias", "delete", "prod")
    prod.ok("queue", "send", "q", "orphan")
    summary = prod.ok("triggers", "poll")
    assert (summary["Deliveries"], summary["Failures"]) == (1, 1)
    entry = deliveries(prod)[-1]
    assert entry["ErrorType"] == "ResourceNotFoundException"
    assert entry["ExecutedVersion"] is None
    assert entry["LastProcessingResult"].startswith(
        "PROBLEM: Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:prod"
    )
    assert entry["Trigger"] == f"sqs:{Q}q via ESM {uuid}"
    assert counts(prod, "q") == (0, 1)  # back after its visibility timeout, as in AWS
    assert prod.ok("get-event-source-mapping", "--uuid", uuid)["State"] == "Enabled"


def test_triggers_list_names_the_alias(prod: Fn) -> None:
    prod.ok("queue", "create", "q")
    uuid = mapping(prod, "q")
    assert prod.ok("triggers", "list") == {
        "Triggers": [{
            "Type": "event-source-mapping:sqs", "Id": uuid, "Source": Q + "q",
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:hello:prod",
            "Qualifier": "prod", "State": "Enabled",
        }]
    }  # fmt: skip


S3_HANDLER = """\
def handler(event, context):
    for r in event.get("Records", []):
        print("key", r["s3"]["object"]["key"])
    if event.get("source") == "aws.events":
        print("scheduled", event["detail-type"])
    return {}
"""
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"


def test_poll_and_list_take_in_buckets_and_schedules(
    fn: Fn, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One poll delivers a bucket's changed file and a schedule that is due, each through
    the alias; ``triggers list`` shows them beside the mappings."""
    from lambdaver.service import triggers

    fn.publish(**{"app.py": S3_HANDLER})
    fn.ok("alias", "create", "prod", "--version", "1")
    fn.ok("bucket", "create", "uploads", "--path", str(tmp_path / "up"))
    fn.ok("add-permission", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
          "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::uploads",
          "--qualifier", "prod")  # fmt: skip
    fn.ok("bucket", "notify", "uploads", "--function-arn", f"{FN_ARN}:prod")
    fn.ok("schedule", "create", "hourly", "--expression", "rate(1 hour)",
          "--target", f"{FN_ARN}:prod")  # fmt: skip
    listed = {(t["Type"], t["Qualifier"]) for t in fn.ok("triggers", "list")["Triggers"]}
    assert listed == {("bucket", "prod"), ("schedule", "prod")}
    (tmp_path / "up" / "photo.jpg").write_bytes(b"jpeg")
    summary = fn.ok("triggers", "poll")
    assert (summary["Events"], summary["FailedEvents"]) == (1, 0)  # the schedule: not yet
    # two hours later, the schedule is due (once, for the latest missed time)
    real = time.time_ns

    class Later:
        @staticmethod
        def time_ns() -> int:
            return real() + 2 * 3600 * 10**9

        def __getattr__(self, name: str) -> object:
            return getattr(time, name)

    monkeypatch.setattr(triggers, "time", Later())
    assert fn.ok("triggers", "poll")["Events"] == 1
    assert fn.ok("triggers", "poll")["Events"] == 0  # nothing pending any more
    logs = [e for e in fn.ok("logs")["Events"] if e.get("Trigger")]
    assert sorted(e["Trigger"] for e in logs) == ["bucket:uploads", "schedule:hourly"]
    assert all(e["ExecutedVersion"] == "1" for e in logs)
    assert any("key photo.jpg" in e["Log"] for e in logs)
    assert any("scheduled Scheduled Event" in e["Log"] for e in logs)
