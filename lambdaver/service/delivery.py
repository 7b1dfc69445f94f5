"""What the trigger providers (service/buckets.py, service/schedules.py) hand to whoever
delivers their events.

A provider has three functions:

- ``pending(repo, now) -> list[Delivery]``: what is due at ``now`` (nanoseconds since the
  epoch): the changed files of a bucket since its recorded state, the schedules whose next
  time has come;
- ``deliver(repo, delivery, invoke) -> Any``: invoke the function with the delivery's
  event through ``invoke(qualifier, payload, trigger)`` (the caller decides how the
  function runs), then record that it was delivered; what ``invoke`` returned is returned;
- ``describe(repo) -> list[dict]``: one row per trigger, for ``triggers list``.

``invoke`` raising means "not delivered": the provider records nothing (a bucket change
is offered again at the next poll: at-least-once), except where the provider says
otherwise (a schedule's time has passed either way).

:func:`local_invoker` is the ``invoke`` the CLI's own verbs (``schedule fire``, ``bucket
sync``) use: one synchronous run of the qualifier (weights apply), journaled with the
trigger's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

#: ``invoke(qualifier, payload, trigger)``: run the function once for a trigger.
Invoke = Callable[[str | None, bytes, str], Any]


class Delivery(Value):
    """One invocation a trigger asks for.

    ``kind``: ``bucket`` or ``schedule``; ``trigger``: its name in the journal and in
    ``triggers list`` (``bucket:NAME``, ``schedule:NAME``); ``qualifier``: what it invokes
    (an alias, a version, or None for $LATEST); ``payload``: the event, as JSON bytes;
    ``state``: what the provider records once it is delivered (its own format)."""

    kind: str
    trigger: str
    qualifier: str | None
    payload: bytes
    state: dict[str, Any]


def local_invoker(repo: Repository, environments: Any = None) -> Invoke:
    """Run the qualifier once, now (weights apply; in ``environments``, an
    EnvironmentPool, when given: the server's warm ones), and journal the invocation as an
    ``Event`` carrying ``Trigger``.  Returns the journal's summary: ``ExecutedVersion``,
    ``StatusCode``, and ``FunctionError`` when the function failed."""

    def invoke(qualifier: str | None, payload: bytes, trigger: str) -> dict[str, Any]:
        from lambdaver.service.invoke import check_event_payload, run_once

        check_event_payload(payload)
        version, result = run_once(
            repo,
            qualifier=qualifier,
            payload=payload,
            journal={"InvocationType": "Event", "Trigger": trigger},
            environments=environments,
        )
        out: dict[str, Any] = {"StatusCode": 202, "ExecutedVersion": version}
        if result.function_error is not None:
            out["FunctionError"] = result.function_error
        return out

    return invoke
