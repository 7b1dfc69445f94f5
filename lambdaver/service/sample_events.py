"""Event records as AWS delivers them, and ``events generate``'s sample events.

The record builders (:func:`s3_record`, :func:`scheduled_event`, :func:`sqs_record`) are
the ones the triggers use (service/buckets.py, service/schedules.py, the queues), so a
sample event and a delivered one have the same shape.  The samples follow
``sam local generate-event``'s templates (aws/aws-sam-cli,
``samcli/lib/generated_sample_events``): the same services, event names, options and
defaults, with the records built by the functions above.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from lambdaver.value import Value

# --- record builders ---------------------------------------------------------------------


def s3_key(key: str) -> str:
    """An object key as S3 notifications carry it: form-urlencoded (a space is ``+``,
    ``@`` is ``%40``), ``/`` kept (lambda-semantics-2.md §4.3)."""
    return quote_plus(key, safe="/")


def s3_record(
    *,
    event_name: str,
    bucket: str,
    key: str,
    region: str,
    event_time: str,
    configuration_id: str,
    size: int | None = None,
    etag: str | None = None,
    sequencer: str = "0A1B2C3D4E5F678901",
    partition: str = "aws",
    principal_id: str = "EXAMPLE",
    source_ip: str = "127.0.0.1",
    request_id: str = "EXAMPLE123456789",
    host_id: str = "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
    event_version: str = "2.1",
) -> dict[str, Any]:
    """One S3 event record (``eventName`` without the ``s3:`` prefix, ``key`` raw: it is
    encoded here).  ``size`` and ``eTag`` are left out when None (a delete has neither)."""
    obj: dict[str, Any] = {"key": s3_key(key)}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    obj["sequencer"] = sequencer
    return {
        "eventVersion": event_version,
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": principal_id},
                "arn": f"arn:{partition}:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def rule_arn(region: str, account: str, rule: str, partition: str = "aws") -> str:
    return f"arn:{partition}:events:{region}:{account}:rule/{rule}"


def scheduled_event(
    *, event_id: str, account: str, region: str, time: str, rule: str, partition: str = "aws"
) -> dict[str, Any]:
    """The event an EventBridge schedule sends (``time``: seconds, ``Z``)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [rule_arn(region, account, rule, partition)],
        "detail": {},
    }


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    queue_arn: str,
    region: str,
    sent_ms: int,
    first_receive_ms: int,
    receive_count: int = 1,
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    message_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One SQS record as an event source mapping delivers it (lambda-semantics-2.md §4.2):
    every attribute a string, times in epoch milliseconds."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_ms),
            "SenderId": sender_id,
            "ApproximateFirstReceiveTimestamp": str(first_receive_ms),
        },
        "messageAttributes": message_attributes or {},
        "md5OfMessageAttributes": None,
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


# --- the samples ---------------------------------------------------------------------------


class Sample(Value):
    """One sample event: its help line, its options (name -> default) and its builder."""

    help: str
    options: dict[str, str]
    build: Callable[[dict[str, str]], Any]


_COMMON = {"region": "us-east-1", "partition": "aws", "account-id": "123456789012"}


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _s3(event_name: str) -> Callable[[dict[str, str]], Any]:
    def build(o: dict[str, str]) -> Any:
        created = event_name.startswith("ObjectCreated")
        return {
            "Records": [
                s3_record(
                    event_name=event_name,
                    bucket=o["bucket"],
                    key=o["key"],
                    region=o["region"],
                    partition=o["partition"],
                    event_time="1970-01-01T00:00:00.000Z",
                    configuration_id="testConfigRule",
                    size=1024 if created else None,
                    etag="0123456789abcdef0123456789abcdef" if created else None,
                    event_version="2.0",
                )
            ]
        }

    return build


def _sqs(o: dict[str, str]) -> Any:
    record = sqs_record(
        message_id="19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
        receipt_handle="MessageReceiptHandle",
        body=o["body"],
        queue_arn=f"arn:{o['partition']}:sqs:{o['region']}:{o['account-id']}:{o['queue-name']}",
        region=o["region"],
        sent_ms=1523232000000,
        first_receive_ms=1523232000001,
        sender_id=o["account-id"],
    )
    del record["md5OfMessageAttributes"]  # SAM's sample has none
    return {"Records": [record]}


def _sns(o: dict[str, str]) -> Any:
    topic = f"arn:{o['partition']}:sns:{o['region']}:{o['account-id']}:{o['topic']}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": topic,
                    "Subject": o["subject"],
                    "Message": o["message"],
                    "Timestamp": "1970-01-01T00:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "UnsubscribeUrl": "EXAMPLE",
                    "MessageAttributes": {
                        "Test": {"Type": "String", "Value": "TestString"},
                        "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
                    },
                },
            }
        ]
    }


def _scheduled(o: dict[str, str]) -> Any:
    return scheduled_event(
        event_id="cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
        account=o["account-id"],
        region=o["region"],
        time="1970-01-01T00:00:00Z",
        rule=o["rule"],
        partition=o["partition"],
    )


def _aws_proxy(o: dict[str, str]) -> Any:
    path = o["path"].lstrip("/")
    host = f"1234567890.execute-api.{o['dns-suffix']}"
    headers = {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate, sdch",
        "Accept-Language": "en-US,en;q=0.8",
        "Cache-Control": "max-age=0",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Desktop-Viewer": "true",
        "CloudFront-Is-Mobile-Viewer": "false",
        "CloudFront-Is-SmartTV-Viewer": "false",
        "CloudFront-Is-Tablet-Viewer": "false",
        "CloudFront-Viewer-Country": "US",
        "Host": host,
        "Upgrade-Insecure-Requests": "1",
        "User-Agent": "Custom User Agent String",
        "Via": "1.1 08f323deadbeefa7af34d5feb414ce27.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": "cDehVQoZnx43VYQb9j2-nvCh-9z396Uhbp027Y2JvkCPNLmGJHqlaA==",
        "X-Forwarded-For": "127.0.0.1, 127.0.0.2",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "body": _b64(o["body"]),
        "resource": o["resource"],
        "path": f"/{path}",
        "httpMethod": o["method"],
        "isBase64Encoded": True,
        "queryStringParameters": {"foo": "bar"},
        "multiValueQueryStringParameters": {"foo": ["bar"]},
        "pathParameters": {"proxy": f"/{path}"},
        "stageVariables": {"baz": "qux"},
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {
            "accountId": o["account-id"],
            "resourceId": "123456",
            "stage": o["stage"],
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "09/Apr/2015:12:34:56 +0000",
            "requestTimeEpoch": 1428582896000,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": "127.0.0.1",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": "Custom User Agent String",
                "user": None,
            },
            "path": f"/{o['stage']}/{path}",
            "resourcePath": o["resource"],
            "httpMethod": o["method"],
            "apiId": "1234567890",
            "protocol": "HTTP/1.1",
        },
    }


def _http_api(o: dict[str, str]) -> Any:
    path = "/" + o["path"].lstrip("/")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"Header1": "value1", "Header2": "value1,value2"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": o["account-id"],
            "apiId": "api-id",
            "authentication": {
                "clientCert": {
                    "clientCertPem": "CERT_CONTENT",
                    "subjectDN": "www.example.com",
                    "issuerDN": "Example issuer",
                    "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
                    "validity": {
                        "notBefore": "May 28 12:30:02 2019 GMT",
                        "notAfter": "Aug  5 09:36:04 2021 GMT",
                    },
                }
            },
            "authorizer": {
                "jwt": {
                    "claims": {"claim1": "value1", "claim2": "value2"},
                    "scopes": ["scope1", "scope2"],
                }
            },
            "domainName": f"id.execute-api.{o['dns-suffix']}",
            "domainPrefix": "id",
            "http": {
                "method": o["method"],
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.168.0.1/32",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": o["stage"],
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": _b64(o["body"]),
        "pathParameters": {"parameter1": "value1"},
        "isBase64Encoded": True,
        "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"},
    }


def _dynamodb(o: dict[str, str]) -> Any:
    arn = (
        f"arn:{o['partition']}:dynamodb:{o['region']}:{o['account-id']}:table/{o['table']}"
        "/stream/2015-06-27T00:48:05.899"
    )
    item = {"Id": {"N": "101"}}

    def record(event_id: str, name: str, seq: str, size: int, **images: Any) -> dict[str, Any]:
        return {
            "eventID": event_id,
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": o["region"],
            "dynamodb": {
                "Keys": item,
                **images,
                "ApproximateCreationDateTime": 1428537600,
                "SequenceNumber": seq,
                "SizeBytes": size,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": arn,
        }

    new = {"Message": {"S": "New item!"}, "Id": {"N": "101"}}
    changed = {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}}
    return {
        "Records": [
            record("c4ca4238a0b923820dcc509a6f75849b", "INSERT",
                   "4421584500000000017450439091", 26, NewImage=new),
            record("c81e728d9d4c2f636f067f89cc14862c", "MODIFY",
                   "4421584500000000017450439092", 59, NewImage=changed, OldImage=new),
            record("eccbc87e4b5ce2fe28308fd9f2a7baf3", "REMOVE",
                   "4421584500000000017450439093", 38, OldImage=changed),
        ]
    }  # fmt: skip


def _kinesis(o: dict[str, str]) -> Any:
    return {
        "Records": [
            {
                "kinesis": {
                    "partitionKey": o["partition-key"],
                    "kinesisSchemaVersion": "1.0",
                    "data": _b64(o["data"]),
                    "sequenceNumber": o["sequence"],
                    "approximateArrivalTimestamp": 1428537600.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{o['sequence']}",
                "invokeIdentityArn": f"arn:{o['partition']}:iam::EXAMPLE",
                "eventVersion": "1.0",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": (
                    f"arn:{o['partition']}:kinesis:{o['region']}:{o['account-id']}"
                    f":stream/{o['stream']}"
                ),
                "awsRegion": o["region"],
            }
        ]
    }


def _url_request(o: dict[str, str]) -> Any:
    path = "/" + o["path"].lstrip("/")
    domain = f"{o['url-id']}.lambda-url.{o['region']}.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"header1": "value1", "header2": "value1,value2"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": o["url-id"],
            "authentication": None,
            "authorizer": None,
            "domainName": domain,
            "domainPrefix": o["url-id"],
            "http": {
                "method": o["method"],
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "123.123.123.123",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": o["body"],
        "pathParameters": None,
        "isBase64Encoded": False,
        "stageVariables": None,
    }


_S3_OPTIONS = {"region": "us-east-1", "partition": "aws", "bucket": "example-bucket",
               "key": "test/key"}  # fmt: skip
_API = {**_COMMON, "body": '{"test":"body"}', "stage": "prod", "method": "POST",
        "resource": "/{proxy+}", "path": "path/to/resource",
        "dns-suffix": "us-east-1.amazonaws.com"}  # fmt: skip

#: Every sample: service -> event -> Sample (the names ``sam local generate-event`` uses,
#: with ``events scheduled`` beside SAM's ``cloudwatch scheduled-event``).
SAMPLES: dict[str, dict[str, Sample]] = {
    "apigateway": {
        "aws-proxy": Sample("An Amazon API Gateway REST API (AWS proxy) event.", _API, _aws_proxy),
        "http-api-proxy": Sample(
            "An Amazon API Gateway HTTP API (payload format 2.0) event.",
            {**_API, "stage": "$default", "resource": "$default"},
            _http_api,
        ),
    },
    "cloudwatch": {
        "scheduled-event": Sample(
            "An Amazon CloudWatch Events scheduled event (as events scheduled).",
            {**_COMMON, "rule": "ExampleRule"},
            _scheduled,
        ),
    },
    "dynamodb": {
        "update": Sample(
            "An Amazon DynamoDB stream event (INSERT, MODIFY, REMOVE).",
            {**_COMMON, "table": "ExampleTableWithStream"},
            _dynamodb,
        ),
    },
    "events": {
        "scheduled": Sample(
            "An Amazon EventBridge scheduled event.", {**_COMMON, "rule": "ExampleRule"}, _scheduled
        ),
    },
    "kinesis": {
        "get-records": Sample(
            "An Amazon Kinesis Data Streams event.",
            {
                **_COMMON,
                "stream": "example-stream",
                "partition-key": "partitionKey-03",
                "data": "Hello, this is a test 123.",
                "sequence": "49545115243490985018280067714973144582180062593244200961",
            },
            _kinesis,
        ),
    },
    "lambda-url": {
        "request": Sample(
            "A Lambda function URL request (payload format 2.0).",
            {
                "region": "us-east-1",
                "url-id": "abcdefghijklmnopqrstuvwxyz012345",
                "method": "POST",
                "path": "/my/path",
                "body": "Hello from client!",
            },
            _url_request,
        ),
    },
    "s3": {
        "delete": Sample("An Amazon S3 delete event.", _S3_OPTIONS, _s3("ObjectRemoved:Delete")),
        "put": Sample("An Amazon S3 put event.", _S3_OPTIONS, _s3("ObjectCreated:Put")),
    },
    "sns": {
        "notification": Sample(
            "An Amazon SNS topic notification.",
            {
                **_COMMON,
                "topic": "ExampleTopic",
                "subject": "example subject",
                "message": "example message",
            },
            _sns,
        ),
    },
    "sqs": {
        "receive-message": Sample(
            "An Amazon SQS event (one message).",
            {**_COMMON, "queue-name": "MyQueue", "body": "Hello from SQS!"},
            _sqs,
        ),
    },
}


class UnknownSample(Exception):
    """What ``generate`` was asked for does not exist: ``message`` says what does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sample(service: str, event: str) -> Sample:
    """The sample ``service event``, or :class:`UnknownSample` listing what exists."""
    events = SAMPLES.get(service)
    if events is None:
        raise UnknownSample(f"Unknown service '{service}'. Services: {', '.join(sorted(SAMPLES))}")
    found = events.get(event)
    if found is None:
        raise UnknownSample(
            f"Unknown event '{event}' for service {service}. Events: {', '.join(sorted(events))}"
        )
    return found


def generate(service: str, event: str, options: dict[str, str] | None = None) -> Any:
    """The sample event with ``options`` (names without ``--``) over its defaults; an
    option the event does not take raises :class:`UnknownSample`."""
    found = sample(service, event)
    given = dict(options or {})
    unknown = sorted(set(given) - set(found.options))
    if unknown:
        known = ", ".join(f"--{name}" for name in sorted(found.options))
        raise UnknownSample(
            f"No such option '--{unknown[0]}' for {service} {event}. Options: {known}"
        )
    return found.build({**found.options, **given})


def to_json(event: Any) -> str:
    return json.dumps(event, indent=2)
