"""Event source mappings (lambda-semantics-2 §4.1): create, get, update, delete, list.

A mapping lives in the repository of the function it invokes, as a ref in the
``event-source-mappings`` namespace of the metadata store (name: its UUID; ``k1`` the
qualified FunctionArn, ``k2`` the EventSourceArn, so duplicates and listings are found by
index).  Its ``FunctionArn`` is kept as given, qualified: a mapping on ``fn:prod``
invokes whatever ``prod`` names when a batch is delivered, so promotions and rollbacks
need no change to the mapping.

An SQS mapping also records where its queue lives (``queue_root``: the directory of the
function whose repository holds the queue, relative to this function's) and is recorded
as a consumer in that queue's database (so ``queue delete`` can say which mappings read
the queue).  Mappings to other sources (Kinesis, DynamoDB Streams, Kafka, MQ,
DocumentDB) are validated, kept and listed as AWS shows them, and never fired.
"""

# str paths on purpose, as service/project.py's (pathlib costs start-up time)
# ruff: noqa: PTH118

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidParameterValueException,
    LambdaverError,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdaver.model.triggers import (
    KINDS,
    MAPPINGS,
    SQS,
    STARTING_POSITIONS,
    STREAMS,
    EventSourceMapping,
    MappingList,
    MappingResult,
    batch_problems,
    validate_event_source_arn,
    validate_response_types,
    validate_uuid,
)

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository


NOT_FOUND = "The resource you requested does not exist."
WINDOW_RULE = (
    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
    "than 10"
)


def function_does_not_exist() -> InvalidParameterValueException:
    """What CreateEventSourceMapping answers for a missing function or qualifier (400)."""
    return InvalidParameterValueException("Function does not exist")


def _check_batch(kind: str, batch_size: int | None, window: int | None) -> None:
    problems = batch_problems(batch_size, window)
    if problems:
        raise ValidationException(problems)


def _check_sqs_window(kind: str, batch_size: int, window: int) -> None:
    if kind == SQS and batch_size > 10 and window == 0:
        raise InvalidParameterValueException(WINDOW_RULE)


def _check_qualifier_exists(repo: Repository, qualifier: str | None) -> None:
    from lambdaver.service.functions import resolve

    try:
        resolve(repo, qualifier)
    except ResourceNotFoundException as exc:
        raise function_does_not_exist() from exc


def _queue_root(repo: Repository, arn: str, project_root: str | None) -> str:
    """The directory of the function whose repository holds the queue ``arn`` names: this
    function's, else (``project_root`` given) the one function of the project that has a
    queue of that name."""
    from lambdaver.model.triggers import QueueDoesNotExist
    from lambdaver.service.queues import QueueStore

    parts = arn.split(":")
    name = parts[5] if len(parts) > 5 else ""
    region, account = parts[3], parts[4]
    prefix = (
        "Error occurred while ReceiveMessage. SQS Error Code: "
        "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
        f"{QueueDoesNotExist.MESSAGE}"
    )
    if region != repo.settings.region or account != repo.settings.account_id:
        raise InvalidParameterValueException(
            f"{prefix} (lambdaver: queue {arn} is in region {region}, account {account}; this "
            f"repository's queues are in region {repo.settings.region}, account "
            f"{repo.settings.account_id})"
        )
    if QueueStore(repo.dot).get(name) is not None:
        return repo.root
    found: list[str] = []
    if project_root is not None:
        from lambdaver.service.project import function_dirs
        from lambdaver.service.repository import DOT

        for d in function_dirs(project_root):
            if d != repo.root and QueueStore(os.path.join(d, DOT)).get(name) is not None:
                found.append(d)
    if len(found) > 1:
        raise ResourceConflictException(
            f"Two functions of the project hold a queue named {name}: {found[0]} and "
            f"{found[1]}; delete or rename one"
        )
    if not found:
        where = "this function's repository" + (" or the project" if project_root else "")
        raise InvalidParameterValueException(
            f"{prefix} (lambdaver: no queue {name} in {where}; create it with "
            f"`lambdaver queue create {name}`)"
        )
    return found[0]


def create_mapping(
    repo: Repository,
    *,
    function_name: str,
    qualifier: str | None,
    event_source_arn: str | None,
    batch_size: int | None = None,
    window: int | None = None,
    enabled: bool | None = None,
    response_types: list[str] | None = None,
    starting_position: str | None = None,
    extra: dict[str, Any] | None = None,
    project_root: str | None = None,
) -> MappingResult:
    """CreateEventSourceMapping.  ``function_name``: as the caller gave it (named in the
    duplicate message); ``qualifier``: the one it carries."""
    if not event_source_arn:
        raise InvalidParameterValueException("Unrecognized event source.")
    kind = validate_event_source_arn(event_source_arn)
    _check_batch(kind, batch_size, window)
    validate_response_types(response_types or [])
    if starting_position is not None and starting_position not in STARTING_POSITIONS:
        raise ValidationException.constraint(
            starting_position, "startingPosition",
            "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
        )  # fmt: skip
    if kind == SQS and starting_position is not None:
        raise InvalidParameterValueException("StartingPosition is not valid for SQS event sources.")
    if kind in STREAMS and starting_position is None:
        raise InvalidParameterValueException(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null."
        )
    destination = (extra or {}).get("DestinationConfig")
    if kind == SQS and isinstance(destination, dict) and destination.get("OnSuccess"):
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )
    default_batch, _max, default_window = KINDS[kind]
    size = default_batch if batch_size is None else batch_size
    win = default_window if window is None else window
    _check_sqs_window(kind, size, win)
    function_arn = repo.arns.function(qualifier)
    kept = dict(extra or {})
    if starting_position is not None:
        kept["StartingPosition"] = starting_position
    with repo.lock.held():
        _check_qualifier_exists(repo, qualifier)
        queue_root = _queue_root(repo, event_source_arn, project_root) if kind == SQS else None
        for _uuid, raw in repo.meta.find_k1(MAPPINGS, function_arn):
            other = EventSourceMapping.from_json(raw)
            if other.event_source_arn == event_source_arn:
                raise ResourceConflictException(
                    f'An event source mapping with {_kind_word(kind)} arn (" {event_source_arn} '
                    f'") and function (" {function_name} ") already exists. Please update or '
                    f"delete the existing mapping with UUID {other.uuid}"
                )
        mapping = EventSourceMapping(
            uuid=repo.new_id(),
            function_arn=function_arn,
            event_source_arn=event_source_arn,
            kind=kind,
            batch_size=size,
            window=win,
            enabled=True if enabled is None else enabled,
            response_types=list(response_types or []),
            last_modified=_now(repo),
            region=repo.settings.region,
            account=repo.settings.account_id,
            queue_root=None if queue_root is None else os.path.relpath(queue_root, repo.root),
            extra=kept,
        )
        if queue_root is not None:  # the consumer first: a stale one is ignored
            _queues_of(queue_root).add_consumer(
                mapping.uuid, _queue_name(event_source_arn), repo.root, function_arn
            )
        meta = repo.meta
        with meta.transaction():
            meta.add_if_new(MAPPINGS, mapping.uuid, mapping.to_json(), function_arn,
                            event_source_arn)  # fmt: skip
    return MappingResult(mapping, "Creating")


def _kind_word(kind: str) -> str:
    return {"sqs": "SQS", "kinesis": "Kinesis", "dynamodb": "DynamoDB"}.get(kind, kind)


def _queue_name(arn: str) -> str:
    return arn.split(":")[5]


def _queues_of(root: str) -> Any:
    from lambdaver.service.queues import QueueStore
    from lambdaver.service.repository import DOT

    return QueueStore(os.path.join(root, DOT))


def _now(repo: Repository) -> float:
    return round(repo.clock() / 1e9, 3)


def mappings_of(repo: Repository) -> list[EventSourceMapping]:
    """Every mapping kept in ``repo``, by UUID."""
    return [EventSourceMapping.from_json(raw) for _u, raw in repo.meta.items(MAPPINGS)]


def find_mapping(repos: Iterable[Repository], uuid: str) -> tuple[Repository, EventSourceMapping]:
    """The repository that keeps mapping ``uuid``, and the mapping; AWS's 404 if none."""
    validate_uuid(uuid)
    for repo in repos:
        raw = repo.meta.get(MAPPINGS, uuid)
        if raw is not None:
            return repo, EventSourceMapping.from_json(raw)
    raise ResourceNotFoundException(NOT_FOUND)


def get_mapping(repos: Iterable[Repository], uuid: str) -> MappingResult:
    return MappingResult(find_mapping(repos, uuid)[1])


def update_mapping(
    repos: Iterable[Repository],
    uuid: str,
    *,
    qualifier_given: bool = False,
    function_name: str | None = None,
    qualifier: str | None = None,
    batch_size: int | None = None,
    window: int | None = None,
    enabled: bool | None = None,
    response_types: list[str] | None = None,
) -> MappingResult:
    """UpdateEventSourceMapping: changes what it is given.  ``function_name`` (with its
    ``qualifier``) may name another qualifier of the same function."""
    validate_uuid(uuid)
    _check_batch("", batch_size, window)
    if response_types is not None:
        validate_response_types(response_types)
    repo, _found = find_mapping(repos, uuid)
    with repo.lock.held():
        raw = repo.meta.get(MAPPINGS, uuid)
        if raw is None:
            raise ResourceNotFoundException(NOT_FOUND)
        current = EventSourceMapping.from_json(raw)
        function_arn = current.function_arn
        if function_name is not None:
            from lambdaver.service.project import bare_name

            if bare_name(function_name) != repo.name:
                raise InvalidParameterValueException(
                    f"lambdaver keeps a mapping in the repository of its function "
                    f"({repo.name}): to map {current.event_source_arn} to another function, "
                    "delete this mapping and create one for that function"
                )
            _check_qualifier_exists(repo, qualifier)
            function_arn = repo.arns.function(qualifier)
        new = current.replace(
            function_arn=function_arn,
            batch_size=current.batch_size if batch_size is None else batch_size,
            window=current.window if window is None else window,
            enabled=current.enabled if enabled is None else enabled,
            response_types=current.response_types
            if response_types is None
            else list(response_types),
            last_modified=_now(repo),
        )
        _check_sqs_window(new.kind, new.batch_size, new.window)
        meta = repo.meta
        with meta.transaction():
            meta.set_if_equals(MAPPINGS, uuid, raw, new.to_json(), new.function_arn,
                               new.event_source_arn)  # fmt: skip
    return MappingResult(new, "Updating")


def delete_mapping(repos: Iterable[Repository], uuid: str) -> MappingResult:
    """DeleteEventSourceMapping: answers the mapping with State ``Deleting``."""
    repo, _found = find_mapping(repos, uuid)
    with repo.lock.held():
        raw = repo.meta.get(MAPPINGS, uuid)
        if raw is None:
            raise ResourceNotFoundException(NOT_FOUND)
        mapping = EventSourceMapping.from_json(raw)
        meta = repo.meta
        with meta.transaction():
            meta.remove(MAPPINGS, uuid)
    root = queue_root_of(repo, mapping)
    if root is not None:
        with contextlib.suppress(Exception):  # a stale consumer row is ignored anyway
            _queues_of(root).remove_consumer(uuid)
    return MappingResult(mapping, "Deleting")


def queue_root_of(repo: Repository, mapping: EventSourceMapping) -> str | None:
    if mapping.queue_root is None:
        return None
    return os.path.normpath(os.path.join(repo.root, mapping.queue_root))


def list_mappings(
    repos: Iterable[Repository],
    *,
    function_name: str | None = None,
    event_source_arn: str | None = None,
) -> MappingList:
    """ListEventSourceMappings, filtered by function (a name: all its mappings; a
    qualified name or ARN: those on that qualifier) and by event source ARN."""
    want_name: str | None = None
    want_qualifier: str | None = None
    if function_name is not None:
        import re

        from lambdaver.model.names import FUNCTION_NAME_PATTERN

        m = re.fullmatch(FUNCTION_NAME_PATTERN, function_name)
        if m is None or len(function_name) > 256:
            raise ValidationException.constraint(
                function_name, "functionName",
                f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
            )  # fmt: skip
        want_name, want_qualifier = m.group(10), m.group(12)
    if event_source_arn is not None:
        validate_event_source_arn(event_source_arn)
    out: list[EventSourceMapping] = []
    seen_function = function_name is None
    for repo in repos:
        if want_name is not None and repo.name != want_name:
            continue
        seen_function = True
        for m2 in mappings_of(repo):
            if want_qualifier is not None and m2.qualifier != want_qualifier:
                continue
            if event_source_arn is not None and m2.event_source_arn != event_source_arn:
                continue
            out.append(m2)
    if not seen_function:
        raise ResourceNotFoundException(NOT_FOUND)
    out.sort(key=lambda m3: (m3.last_modified, m3.uuid))
    return MappingList(out)


def check_error(exc: LambdaverError) -> str:
    """A mapping's failure as AWS's LastProcessingResult words it."""
    return (
        f"PROBLEM: {exc.message} (Service: AWSLambda; Status Code: "
        f"{404 if exc.code == 'ResourceNotFoundException' else 400}; Error Code: {exc.code})"
    )
