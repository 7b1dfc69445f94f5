"""Schedules: EventBridge rules with a ``rate()`` or ``cron()`` expression whose one target
is this function (an alias, a version, or unqualified).

A schedule lives in the repository of its function, in the ``schedules`` namespace of the
metadata store (value: JSON, see :func:`_record`); every change takes the repository lock
and is one SQLite transaction, so a crash leaves the old record or the new one.

Delivery (service/delivery.py): :func:`pending` gives one delivery per schedule whose next
time has come (once, for the latest such time, when several were missed while nothing
ran), :func:`deliver` invokes the target with the scheduled event (or the rule's
``Input``) and records the time it was for, :func:`describe` gives ``triggers list``'s
rows.  ``schedule fire`` delivers one event now without changing when the next is due.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdaver.errors import ResourceNotFoundException, ValidationException
from lambdaver.model.schedule import EventsValidationError, parse
from lambdaver.service.delivery import Delivery, Invoke
from lambdaver.service.sample_events import rule_arn, scheduled_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from lambdaver.service.repository import Repository

SCHEDULES = "schedules"
KIND = "schedule"
EVENT_BUS = "default"

_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
_NAME_PATTERN = r"[\.\-_A-Za-z0-9]+"
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


# --- checks ---------------------------------------------------------------------------------


def validate_rule_name(name: str) -> None:
    """PutRule's ``Name``: 1-64 of ``[.-_A-Za-z0-9]``."""
    problems = []
    if len(name) > 64:
        problems.append(
            ValidationException.problem(
                name, "name", "Member must have length less than or equal to 64"
            )
        )
    if not _NAME.fullmatch(name):
        problems.append(
            ValidationException.problem(
                name, "name", f"Member must satisfy regular expression pattern: {_NAME_PATTERN}"
            )
        )
    if problems:
        raise ValidationException(problems)


def target_qualifier(repo: Repository, arn: str) -> str | None:
    """The qualifier a target ARN names; it must name this function, and what it names
    must exist now.  None: unqualified ($LATEST)."""
    if not _LAMBDA_ARN.fullmatch(arn):
        raise EventsValidationError(
            f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        )
    from lambdaver.model.names import parse_function_name
    from lambdaver.service.functions import resolve

    settings = repo.settings
    qualifier = parse_function_name(
        arn, region=settings.region, account=settings.account_id, expected=repo.name
    )
    resolve(repo, qualifier)  # "Function not found: ARN" when the alias or version is missing
    return qualifier


def _check_input(text: str | None) -> None:
    if text is None:
        return
    try:
        json.loads(text)
    except ValueError as exc:
        raise EventsValidationError("Valid JSON must be provided in Input.") from exc


# --- records --------------------------------------------------------------------------------


def _record(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    assert isinstance(value, dict)  # noqa: S101 - written by _put only
    return value


def _get(repo: Repository, name: str) -> dict[str, Any]:
    raw = repo.meta.get(SCHEDULES, name)
    if raw is None:
        raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {EVENT_BUS}.")
    return _record(raw)


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC)


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000


def next_time(record: dict[str, Any], after_ns: int | None = None) -> int | None:
    """When ``record`` fires next (ns since the epoch) after ``after_ns`` (default: the
    last time it fired for, or its creation); None: never again."""
    expr = parse(record["ScheduleExpression"])
    anchor = _dt(record["CreatedAt"])
    if after_ns is None:
        after_ns = record.get("LastFired") or record["CreatedAt"]
    after = _dt(after_ns)
    found = expr.next_after(after, anchor)
    return _ns(found) if found is not None else None


def rule_view(repo: Repository, record: dict[str, Any]) -> dict[str, Any]:
    """A schedule as ``schedule list`` shows it (DescribeRule's names, one target)."""
    settings = repo.settings
    nxt = next_time(record)
    out: dict[str, Any] = {
        "Name": record["Name"],
        "Arn": rule_arn(settings.region, settings.account_id, record["Name"]),
        "ScheduleExpression": record["ScheduleExpression"],
        "State": record.get("State", "ENABLED"),
        "EventBusName": EVENT_BUS,
        "Target": record["Target"],
    }
    if record.get("Input") is not None:
        out["Input"] = record["Input"]
    out["NextInvocation"] = _iso(nxt) if nxt is not None else None
    return out


# --- operations -----------------------------------------------------------------------------


def create_schedule(
    repo: Repository, name: str, expression: str, target: str, input_json: str | None = None
) -> dict[str, Any]:
    """``schedule create`` (PutRule and PutTargets at once): creates the rule, or replaces
    one of that name (its rate then counts from now).  Returns ``{"RuleArn": ...}``."""
    validate_rule_name(name)
    parse(expression)
    _check_input(input_json)
    with repo.lock.held():
        qualifier = target_qualifier(repo, target)
        record = {
            "Name": name,
            "ScheduleExpression": expression,
            "State": "ENABLED",
            "Target": target,
            "Qualifier": qualifier,
            "Input": input_json,
            "CreatedAt": repo.clock(),
            "LastFired": None,
        }
        value = json.dumps(record, sort_keys=True)
        meta = repo.meta
        with meta.transaction():
            meta.set_if_equals(SCHEDULES, name, meta.get(SCHEDULES, name), value, qualifier)
    settings = repo.settings
    return {"RuleArn": rule_arn(settings.region, settings.account_id, name)}


def list_schedules(repo: Repository) -> dict[str, Any]:
    """``schedule list``: ``{"Rules": [...]}`` by name."""
    return {"Rules": [rule_view(repo, _record(raw)) for _n, raw in repo.meta.items(SCHEDULES)]}


def delete_schedule(repo: Repository, name: str) -> None:
    """``schedule delete``: a missing rule is not an error (as DeleteRule)."""
    validate_rule_name(name)
    with repo.lock.held():
        if repo.meta.get(SCHEDULES, name) is None:
            return
        with repo.meta.transaction():
            repo.meta.remove(SCHEDULES, name)


def _delivery(repo: Repository, record: dict[str, Any], at_ns: int, fired: int | None) -> Delivery:
    """The delivery of ``record``'s event for time ``at_ns`` (``fired``: the time to record
    as its last firing once delivered; None for ``schedule fire``)."""
    if record.get("Input") is not None:
        payload = record["Input"].encode()
    else:
        settings = repo.settings
        event = scheduled_event(
            event_id=repo.new_id(),
            account=settings.account_id,
            region=settings.region,
            time=_iso(at_ns),
            rule=record["Name"],
        )
        payload = json.dumps(event).encode()
    return Delivery(
        kind=KIND,
        trigger=f"{KIND}:{record['Name']}",
        qualifier=record.get("Qualifier"),
        payload=payload,
        state={"Name": record["Name"], "Target": record["Target"], "Fired": fired},
    )


def pending(
    repo: Repository, now: int, warn: Callable[[str], None] | None = None
) -> list[Delivery]:
    """One delivery per schedule whose next time is at or before ``now`` (ns): for the
    latest such time, so a schedule missed many times while nothing ran fires once."""
    out = []
    for _name, raw in repo.meta.items(SCHEDULES):
        record = _record(raw)
        if record.get("State", "ENABLED") != "ENABLED":
            continue
        due = next_time(record)
        if due is None or due > now:
            continue
        while True:  # the latest time at or before now
            later = next_time(record, due)
            if later is None or later > now:
                break
            due = later
        out.append(_delivery(repo, record, due, due))
    return out


def fire(repo: Repository, name: str) -> Delivery:
    """``schedule fire``'s delivery: the event for now; the schedule's next time stays."""
    validate_rule_name(name)
    record = _get(repo, name)
    return _delivery(repo, record, repo.clock(), None)


def deliver(repo: Repository, delivery: Delivery, invoke: Invoke) -> Any:
    """Invoke the target with the event.  A due time counts as fired even when the
    invocation failed (EventBridge does not deliver an old event later either); a target
    that no longer exists (its alias was deleted) is said plainly."""
    try:
        return invoke(delivery.qualifier, delivery.payload, delivery.trigger)
    except ResourceNotFoundException as exc:
        raise ResourceNotFoundException(
            f"{exc.message}: the target of schedule {delivery.state['Name']} no longer "
            "exists; point the schedule at another qualifier with 'lambdaver schedule "
            f"create {delivery.state['Name']} --expression ... --target ARN', or delete it"
        ) from exc
    finally:
        if delivery.state.get("Fired") is not None:
            _record_fired(repo, delivery)


def _record_fired(repo: Repository, delivery: Delivery) -> None:
    name, fired = delivery.state["Name"], delivery.state["Fired"]
    with repo.lock.held():
        raw = repo.meta.get(SCHEDULES, name)
        if raw is None:
            return  # deleted meanwhile
        record = _record(raw)
        if record["Target"] != delivery.state["Target"] or (record.get("LastFired") or 0) >= fired:
            return  # replaced meanwhile, or already recorded
        record["LastFired"] = fired
        with repo.meta.transaction():
            repo.meta.set_if_equals(
                SCHEDULES, name, raw, json.dumps(record, sort_keys=True), record.get("Qualifier")
            )


def describe(repo: Repository) -> list[dict[str, Any]]:
    """``triggers list``'s rows for the schedules (the keys of service/triggers.py's
    ``Trigger``: Type, Id, Source, FunctionArn, Qualifier, State)."""
    rows = []
    for _name, raw in repo.meta.items(SCHEDULES):
        record = _record(raw)
        view = rule_view(repo, record)
        rows.append(
            {
                "Type": KIND,
                "Id": record["Name"],
                "Source": view["Arn"],
                "FunctionArn": record["Target"],
                "Qualifier": record.get("Qualifier"),
                "State": f"Enabled, {record['ScheduleExpression']}, next "
                f"{view['NextInvocation'] or 'never'}",
            }
        )
    return rows
