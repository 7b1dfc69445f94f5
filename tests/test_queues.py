"""Local queues: create, send, list, receive (visibility timeout), delete; names and
values refused as SQS refuses them, with nothing changed."""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.conftest import Fn

ARN = "arn:aws:sqs:us-east-1:000000000000:"


def test_create_send_list_receive_delete(fn: Fn) -> None:
    created = fn.ok("queue", "create", "orders", "--visibility-timeout", "5")
    assert created["QueueName"] == "orders"
    assert created["Attributes"]["QueueArn"] == ARN + "orders"
    assert created["Attributes"]["VisibilityTimeout"] == "5"
    # the same attributes again: SQS answers the queue
    assert fn.ok("queue", "create", "orders", "--visibility-timeout", "5")["QueueName"] == "orders"

    sent = fn.ok("queue", "send", "orders", '{"id": 1}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b'{"id": 1}', usedforsecurity=False).hexdigest()
    assert len(sent["MessageId"]) == 36
    (fn.root / "b.txt").write_text("from a file")
    fn.ok("queue", "send", "orders", "--file", str(fn.root / "b.txt"))

    listed = fn.ok("queue", "list")["Queues"]
    assert [q["QueueName"] for q in listed] == ["orders"]
    assert listed[0]["Attributes"]["ApproximateNumberOfMessages"] == "2"

    got = fn.ok("queue", "receive", "orders", "--max-messages", "10")["Messages"]
    assert [m["Body"] for m in got] == ['{"id": 1}', "from a file"]
    assert got[0]["MessageId"] == sent["MessageId"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert got[0]["ReceiptHandle"]
    # invisible for the visibility timeout
    assert fn.ok("queue", "receive", "orders")["Messages"] == []
    counts = fn.ok("queue", "list")["Queues"][0]["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "2"

    fn.ok("queue", "delete-message", "orders", got[0]["ReceiptHandle"])
    fn.ok("queue", "delete", "orders")
    assert fn.ok("queue", "list") == {"Queues": []}


def test_a_received_message_reappears_after_its_visibility_timeout(fn: Fn) -> None:
    fn.ok("queue", "create", "q", "--visibility-timeout", "1")
    fn.ok("queue", "send", "q", "hello")
    first = fn.ok("queue", "receive", "q")["Messages"]
    assert len(first) == 1
    assert fn.ok("queue", "receive", "q")["Messages"] == []
    time.sleep(1.1)
    again = fn.ok("queue", "receive", "q")["Messages"]
    assert again[0]["MessageId"] == first[0]["MessageId"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]


def test_dead_letter_queue_after_max_receive_count(fn: Fn) -> None:
    fn.ok("queue", "create", "dlq")
    fn.ok("queue", "create", "q", "--visibility-timeout", "0",
          "--dead-letter-queue", "dlq", "--max-receive-count", "2")  # fmt: skip
    policy = fn.ok("queue", "list")["Queues"][1]["Attributes"]["RedrivePolicy"]
    assert policy == '{"deadLetterTargetArn":"' + ARN + 'dlq","maxReceiveCount":2}'
    mid = fn.ok("queue", "send", "q", "poison")["MessageId"]
    for _ in range(2):
        assert fn.ok("queue", "receive", "q")["Messages"][0]["MessageId"] == mid
    assert fn.ok("queue", "receive", "q")["Messages"] == []  # the third receive moves it
    moved = fn.ok("queue", "receive", "dlq")["Messages"]
    assert [m["MessageId"] for m in moved] == [mid]
    r = fn("queue", "delete", "dlq")
    assert r.exit_code == 254
    assert "is the dead-letter queue of q" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "a" * 81), "Can only include alphanumeric characters, hyphens, or "
         "underscores. 1 to 80 in length"),
        (("create", "bad.name"), "Can only include alphanumeric characters"),
        (("create", "orders.fifo"), "FIFO queues (.fifo) are not supported"),
        (("create", "q2", "--visibility-timeout", "43201"), "VisibilityTimeout"),
        (("create", "q2", "--dead-letter-queue", "nope", "--max-receive-count", "3"),
         "Dead letter target does not exist"),
        (("create", "q2", "--dead-letter-queue", "q", "--max-receive-count", "0"),
         "valid values are from 1 to 1000"),
        (("create", "q2", "--dead-letter-queue", "q"), "needs both"),
        (("create", "q", "--visibility-timeout", "7"), "QueueAlreadyExists"),
        (("send", "missing", "x"), "The specified queue does not exist."),
        (("send", "q", ""), "The request must contain the parameter MessageBody."),
        (("send", "q"), "Give the message body or --file PATH"),
        (("receive", "q", "--max-messages", "11"), "Must be between 1 and 10"),
        (("delete", "missing"), "QueueDoesNotExist"),
    ],
)  # fmt: skip
def test_bad_queue_input_is_refused_and_changes_nothing(
    fn: Fn, unchanged: object, args: tuple[str, ...], message: str
) -> None:
    fn.ok("queue", "create", "q")
    with unchanged(fn.root):  # type: ignore[operator]
        r = fn("queue", *args)
    assert r.exit_code == 254, r
    assert message in r.stderr
    assert r.stderr.count("\n") == 1


def test_a_big_message_is_refused(fn: Fn) -> None:
    fn.ok("queue", "create", "q")
    big = fn.root / "big.txt"
    big.write_text("x" * 262_145)
    r = fn("queue", "send", "q", "--file", str(big))
    assert r.exit_code == 254
    assert "Message must be shorter than 262144 bytes." in r.stderr
