"""Queues and event source mappings as values: names and ARNs validated as SQS and Lambda
validate them, and the records the service returns (each with ``to_aws()``).  No I/O."""

from __future__ import annotations

import re
from typing import Any

from lambdaver.errors import InvalidParameterValueException, ServiceError, ValidationException
from lambdaver.value import Value

# --- errors SQS answers (its codes, as boto3's SQS client names them) -----------------------


class QueueDoesNotExist(ServiceError):
    code = "QueueDoesNotExist"
    MESSAGE = "The specified queue does not exist."

    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(self.MESSAGE + hint)
        self.name = name


class QueueNameExists(ServiceError):
    """CreateQueue of an existing name with other attributes (SQS: QueueAlreadyExists)."""

    code = "QueueAlreadyExists"


class SqsInvalidParameterValue(ServiceError):
    code = "InvalidParameterValue"


class ResourceInUseException(ServiceError):
    """The resource is used by another (Lambda's code for an ESM that cannot change now;
    lambdaver's for a queue that mappings or other queues still use)."""

    code = "ResourceInUseException"


# --- queues -------------------------------------------------------------------------------

QUEUE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
DEFAULT_VISIBILITY_TIMEOUT = 30
MAX_VISIBILITY_TIMEOUT = 43200
MAX_MESSAGE_BYTES = 262_144
MAX_RECEIVE_COUNT = 1000
#: SenderId of messages sent locally (SQS: the sender's IAM principal).
LOCAL_SENDER = "AIDALAMBDAVERLOCAL0000:lambdaver"


def validate_queue_name(name: str) -> None:
    """SQS's rule: 1 to 80 of alphanumerics, hyphens and underscores.  FIFO queues
    (``.fifo``) are not supported: said so, rather than "invalid name"."""
    if name.endswith(".fifo"):
        raise SqsInvalidParameterValue(
            f"Queue {name}: FIFO queues (.fifo) are not supported by lambdaver; "
            "use a standard queue name (1 to 80 of A-Z, a-z, 0-9, - and _)"
        )
    if not QUEUE_NAME_RE.fullmatch(name):
        raise SqsInvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def validate_visibility_timeout(seconds: int) -> None:
    if not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT:
        raise SqsInvalidParameterValue(
            f"Invalid value for the parameter VisibilityTimeout: {seconds} "
            f"(0 to {MAX_VISIBILITY_TIMEOUT} seconds)"
        )


def validate_max_receive_count(count: int) -> None:
    if not 1 <= count <= MAX_RECEIVE_COUNT:
        raise SqsInvalidParameterValue(
            'Value {"maxReceiveCount":'
            f"{count}}} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
            f"maxReceiveCount: {count}, valid values are from 1 to {MAX_RECEIVE_COUNT} both "
            "inclusive."
        )


def validate_body(body: str) -> None:
    if body == "":
        raise SqsInvalidParameterValue("The request must contain the parameter MessageBody.")
    size = len(body.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise SqsInvalidParameterValue(
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{MAX_MESSAGE_BYTES} bytes."
        )


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_url(region: str, account: str, name: str) -> str:
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


class QueueConfig(Value):
    """A queue's definition (its attributes), as stored."""

    name: str
    id: str  # a new one per creation: messages of a deleted queue never reappear
    visibility_timeout: int
    dead_letter_queue: str | None
    max_receive_count: int | None
    created_ms: int


class QueueInfo(Value):
    """A queue as ``queue create`` and ``queue list`` show it."""

    config: QueueConfig
    region: str
    account: str
    visible: int = 0
    in_flight: int = 0

    def to_aws(self) -> dict[str, Any]:
        c = self.config
        attributes: dict[str, Any] = {
            "QueueArn": queue_arn(self.region, self.account, c.name),
            "VisibilityTimeout": str(c.visibility_timeout),
            "ApproximateNumberOfMessages": str(self.visible),
            "ApproximateNumberOfMessagesNotVisible": str(self.in_flight),
            "CreatedTimestamp": str(c.created_ms // 1000),
        }
        if c.dead_letter_queue is not None:
            attributes["RedrivePolicy"] = (
                '{"deadLetterTargetArn":"'
                + queue_arn(self.region, self.account, c.dead_letter_queue)
                + f'","maxReceiveCount":{c.max_receive_count}}}'
            )
        return {
            "QueueName": c.name,
            "QueueUrl": queue_url(self.region, self.account, c.name),
            "Attributes": attributes,
        }


class QueueList(Value):
    queues: list[QueueInfo]

    def to_aws(self) -> dict[str, Any]:
        return {"Queues": [q.to_aws() for q in self.queues]}


class Message(Value):
    """One message of a queue, as received (or as it stands)."""

    message_id: str
    body: str
    md5: str
    sent_ms: int
    receive_count: int
    first_receive_ms: int | None
    receipt_handle: str | None
    sender: str = LOCAL_SENDER

    def attributes(self) -> dict[str, str]:
        return {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(self.sent_ms),
            "SenderId": self.sender,
            "ApproximateFirstReceiveTimestamp": str(self.first_receive_ms or self.sent_ms),
        }

    def to_aws(self) -> dict[str, Any]:
        """As SQS's ReceiveMessage shows it (with all attributes)."""
        return {
            "MessageId": self.message_id,
            "ReceiptHandle": self.receipt_handle,
            "MD5OfBody": self.md5,
            "Body": self.body,
            "Attributes": self.attributes(),
        }

    def record(self, arn: str, region: str) -> dict[str, Any]:
        """The SQS event record a Lambda function receives (lambda-semantics-2 §4.2)."""
        return {
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": self.attributes(),
            "messageAttributes": {},
            "md5OfMessageAttributes": None,
            "md5OfBody": self.md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        }


class SentMessage(Value):
    message_id: str
    md5: str

    def to_aws(self) -> dict[str, Any]:
        return {"MD5OfMessageBody": self.md5, "MessageId": self.message_id}


class ReceivedMessages(Value):
    messages: list[Message]

    def to_aws(self) -> dict[str, Any]:
        return {"Messages": [m.to_aws() for m in self.messages]}


# --- event source mappings -----------------------------------------------------------------

#: The metadata namespace of the mappings (service/esm.py).
MAPPINGS = "event-source-mappings"

EVENT_SOURCE_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?"
    r"-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
_EVENT_SOURCE_ARN_RE = re.compile(EVENT_SOURCE_ARN_PATTERN)
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")

#: Event source kinds: the service of the ARN, with its BatchSize default and maximum and
#: its MaximumBatchingWindowInSeconds default (lambda-semantics-2 §4.1).
SQS = "sqs"
KINDS: dict[str, tuple[int, int, int]] = {
    "sqs": (10, 10000, 0),
    "kinesis": (100, 10000, 0),
    "dynamodb": (100, 10000, 0),
    "kafka": (100, 10000, 0),  # MSK: 500 ms default window, shown as 0 s (whole seconds)
    "mq": (100, 10000, 0),
    "rds": (100, 10000, 0),  # DocumentDB
}
#: Kinds that need a StartingPosition.
STREAMS = frozenset({"kinesis", "dynamodb", "kafka", "rds"})


def validate_event_source_arn(arn: str) -> str:
    """The kind of source ``arn`` names (``sqs``, ``kinesis``, ...); AWS's errors for an
    ARN that is malformed or of no event source."""
    if len(arn) > 10000 or not _EVENT_SOURCE_ARN_RE.fullmatch(arn):
        raise ValidationException.constraint(
            arn, "eventSourceArn",
            f"Member must satisfy regular expression pattern: {EVENT_SOURCE_ARN_PATTERN}",
        )  # fmt: skip
    service = arn.split(":")[2]
    if service not in KINDS:
        raise InvalidParameterValueException("Unrecognized event source.")
    return service


def validate_uuid(uuid: str) -> None:
    if len(uuid) < 36:
        raise ValidationException.constraint(
            uuid, "uUID", "Member must have length greater than or equal to 36"
        )
    if len(uuid) > 36:
        raise ValidationException.constraint(
            uuid, "uUID", "Member must have length less than or equal to 36"
        )


def batch_problems(batch_size: int | None, window: int | None) -> list[str]:
    problems = []
    if batch_size is not None:
        if batch_size < 1:
            problems.append(ValidationException.problem(
                batch_size, "batchSize", "Member must have value greater than or equal to 1"
            ))  # fmt: skip
        elif batch_size > 10000:
            problems.append(ValidationException.problem(
                batch_size, "batchSize", "Member must have value less than or equal to 10000"
            ))  # fmt: skip
    if window is not None:
        if window < 0:
            problems.append(ValidationException.problem(
                window, "maximumBatchingWindowInSeconds",
                "Member must have value greater than or equal to 0",
            ))  # fmt: skip
        elif window > 300:
            problems.append(ValidationException.problem(
                window, "maximumBatchingWindowInSeconds",
                "Member must have value less than or equal to 300",
            ))  # fmt: skip
    return problems


def validate_response_types(types: list[str]) -> None:
    if len(types) > 1:
        raise ValidationException.constraint(
            types, "functionResponseTypes", "Member must have length less than or equal to 1"
        )
    for t in types:
        if t != REPORT_BATCH_ITEM_FAILURES:
            raise ValidationException.constraint(
                f"[{t}]", "functionResponseTypes",
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[ReportBatchItemFailures]]",
            )  # fmt: skip


class EventSourceMapping(Value):
    """An event source mapping as stored (``extra``: parameters kept for other sources,
    shown as given)."""

    uuid: str
    function_arn: str  # qualified as given
    event_source_arn: str
    kind: str
    batch_size: int
    window: int
    enabled: bool
    response_types: list[str]
    last_modified: float  # epoch seconds
    region: str
    account: str
    queue_root: str | None = None  # where the queue lives, relative to the function's root
    extra: dict[str, Any] = {}  # noqa: RUF012 - records are immutable by convention

    @property
    def qualifier(self) -> str | None:
        parts = self.function_arn.split(":")
        return parts[7] if len(parts) > 7 else None

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]

    def to_json(self) -> str:
        import json

        return json.dumps(self._asdict(), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> EventSourceMapping:
        import json

        data = json.loads(raw)
        return cls(**{k: data[k] for k in cls._fields if k in data})

    def to_aws(self, state: str | None = None) -> dict[str, Any]:
        """AWS's EventSourceMappingConfiguration; ``state`` overrides the State shown (a
        create answers ``Creating``, an update ``Updating``, a delete ``Deleting``)."""
        out: dict[str, Any] = {"UUID": self.uuid}
        if self.kind in STREAMS and "StartingPosition" in self.extra:
            out["StartingPosition"] = self.extra["StartingPosition"]
        out["BatchSize"] = self.batch_size
        out["MaximumBatchingWindowInSeconds"] = self.window
        if self.kind in STREAMS:
            out["ParallelizationFactor"] = self.extra.get("ParallelizationFactor", 1)
        out["EventSourceArn"] = self.event_source_arn
        out["FunctionArn"] = self.function_arn
        out["LastModified"] = self.last_modified
        if self.kind in STREAMS:
            out["LastProcessingResult"] = "No records processed"
        out["State"] = state or ("Enabled" if self.enabled else "Disabled")
        out["StateTransitionReason"] = "USER_INITIATED" if self.kind == SQS else "User action"
        if self.kind in STREAMS:
            out["MaximumRecordAgeInSeconds"] = self.extra.get("MaximumRecordAgeInSeconds", -1)
            out["BisectBatchOnFunctionError"] = self.extra.get("BisectBatchOnFunctionError", False)
            out["MaximumRetryAttempts"] = self.extra.get("MaximumRetryAttempts", -1)
        out["FunctionResponseTypes"] = list(self.response_types)
        out["EventSourceMappingArn"] = (
            f"arn:aws:lambda:{self.region}:{self.account}:event-source-mapping:{self.uuid}"
        )
        return out


class MappingResult(Value):
    """One mapping as an operation answers it (with the State that operation shows)."""

    mapping: EventSourceMapping
    state: str | None = None

    def to_aws(self) -> dict[str, Any]:
        return self.mapping.to_aws(self.state)


class MappingList(Value):
    mappings: list[EventSourceMapping]

    def to_aws(self) -> dict[str, Any]:
        return {"EventSourceMappings": [m.to_aws() for m in self.mappings]}
