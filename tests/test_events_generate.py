"""``events generate``: SAM-style sample events."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from lambdaver.service.sample_events import SAMPLES

from conftest import run_cli

REQUIRED = [
    ("s3", "put"), ("s3", "delete"), ("sqs", "receive-message"), ("sns", "notification"),
    ("events", "scheduled"), ("apigateway", "aws-proxy"), ("apigateway", "http-api-proxy"),
    ("dynamodb", "update"), ("kinesis", "get-records"), ("lambda-url", "request"),
]  # fmt: skip


def generate(*args: str) -> dict:
    r = run_cli("events", "generate", *args)
    assert r.exit_code == 0, r
    assert r.stderr == ""
    out = json.loads(r.stdout)
    assert isinstance(out, dict)
    return out


def test_every_required_event_exists() -> None:
    for service, event in REQUIRED:
        assert event in SAMPLES[service], (service, event)


@pytest.mark.parametrize(
    ("service", "event"),
    [(s, e) for s in sorted(SAMPLES) for e in sorted(SAMPLES[s])],
)
def test_every_event_prints_json(service: str, event: str) -> None:
    generate(service, event)


def test_s3_put_and_delete() -> None:
    (rec,) = generate("s3", "put", "--bucket", "uploads", "--key", "photos/red flower@1.jpg",
                      "--region", "eu-west-1", "--partition", "aws-cn")["Records"]  # fmt: skip
    assert rec["eventSource"] == "aws:s3"
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["awsRegion"] == "eu-west-1"
    assert rec["s3"]["bucket"] == {"name": "uploads", "ownerIdentity": {"principalId": "EXAMPLE"},
                                   "arn": "arn:aws-cn:s3:::uploads"}  # fmt: skip
    assert rec["s3"]["object"]["key"] == "photos/red+flower%401.jpg"
    assert {"size", "eTag", "sequencer"} <= set(rec["s3"]["object"])
    (rec,) = generate("s3", "delete")["Records"]
    assert rec["eventName"] == "ObjectRemoved:Delete"
    assert rec["s3"]["object"] == {"key": "test/key", "sequencer": "0A1B2C3D4E5F678901"}
    assert rec["awsRegion"] == "us-east-1"


def test_sqs_receive_message() -> None:
    (rec,) = generate("sqs", "receive-message", "--body", "hi", "--queue-name", "jobs",
                      "--account-id", "111122223333")["Records"]  # fmt: skip
    assert rec["body"] == "hi"
    assert rec["md5OfBody"] == hashlib.md5(b"hi").hexdigest()  # noqa: S324
    assert rec["eventSource"] == "aws:sqs"
    assert rec["eventSourceARN"] == "arn:aws:sqs:us-east-1:111122223333:jobs"
    assert all(isinstance(v, str) for v in rec["attributes"].values())


def test_sns_and_scheduled() -> None:
    (rec,) = generate("sns", "notification", "--message", "m", "--topic", "t")["Records"]
    assert rec["EventSource"] == "aws:sns"
    assert rec["Sns"]["Message"] == "m"
    assert rec["Sns"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:t"
    event = generate("events", "scheduled", "--rule", "nightly", "--account-id", "111122223333")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:111122223333:rule/nightly"]
    assert event["version"] == "0"
    assert event["detail"] == {}


def test_apigateway_events() -> None:
    event = generate("apigateway", "aws-proxy", "--path", "users/7", "--method", "GET",
                     "--body", '{"a": 1}')  # fmt: skip
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/users/7"
    assert event["requestContext"]["path"] == "/prod/users/7"
    assert base64.b64decode(event["body"]) == b'{"a": 1}'
    assert event["isBase64Encoded"] is True
    event = generate("apigateway", "http-api-proxy", "--path", "/users/7", "--method", "PUT")
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/users/7"
    assert event["requestContext"]["http"]["method"] == "PUT"


def test_streams_and_url() -> None:
    records = generate("dynamodb", "update", "--table", "T")["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert ":table/T/stream/" in records[0]["eventSourceARN"]
    (rec,) = generate("kinesis", "get-records", "--data", "hello")["Records"]
    assert base64.b64decode(rec["kinesis"]["data"]) == b"hello"
    assert rec["eventSource"] == "aws:kinesis"
    event = generate("lambda-url", "request", "--path", "/a/b", "--method", "GET", "--body", "x")
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/a/b"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["body"] == "x"
    assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")


def test_an_option_with_equals() -> None:
    (rec,) = generate("s3", "put", "--bucket=b-1")["Records"]
    assert rec["s3"]["bucket"]["name"] == "b-1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s4", "put"], "Unknown service 's4'. Services: apigateway, cloudwatch, dynamodb, "
         "events, kinesis, lambda-url, s3, sns, sqs"),
        (["s3", "get"], "Unknown event 'get' for service s3. Events: delete, put"),
        (["s3", "put", "--colour", "red"],
         "No such option '--colour' for s3 put. Options: --bucket, --key, --partition, --region"),
        (["s3"], "Missing EVENT for service s3. Events: delete, put"),
        (["s3", "put", "--bucket"], "Option '--bucket' requires a value"),
        (["s3", "put", "stray"], "Unexpected argument 'stray'"),
    ],
)  # fmt: skip
def test_unknown_things_are_refused_with_what_exists(args: list[str], message: str) -> None:
    r = run_cli("events", "generate", *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr


def test_without_arguments_lists_everything() -> None:
    r = run_cli("events", "generate")
    assert r.exit_code == 0
    for service, event in REQUIRED:
        assert f"{service} {event}" in r.stdout


def test_help_ends_with_examples_and_statuses() -> None:
    for verb in (["events", "generate"], ["schedule", "create"], ["bucket", "notify"]):
        r = run_cli(*verb, "--help")
        assert r.exit_code == 0
        assert "Examples:\n    lambdaver " in r.stdout
        assert r.stdout.rstrip().endswith("255 internal error.")
