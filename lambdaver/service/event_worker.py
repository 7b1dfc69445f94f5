"""The background worker of Event invocations: ``python -m lambdaver.service.event_worker
ROOT [NAME]``.

Started detached by :func:`lambdaver.service.invoke.accept_event` for the event ``NAME``
of the repository at ``ROOT``; it runs that event, then every other queued event nobody
is running (orphans: events whose worker was killed or never started, e.g. before a
reboot), and exits when there is none left.  For each event (service/event_queue.py),
under its lock:

- attempt 1, 2, 3 (fewer if an earlier worker already made some): the qualifier is
  resolved *now* (a weighted alias chooses now, as AWS's does), the version runs once
  through the executor interface (lambdaver/runtime/), with the event's request id, and
  the journal gets the invocation with ``InvocationType: Event``, ``Attempt: N`` and
  the function's ``Response`` (which nobody else sees);
- an attempt that ended in a function error (an exception, a timeout, a crash) is
  retried after a delay (``LAMBDAVER_EVENT_RETRY_DELAY`` seconds, default 2, doubled
  before the second retry; AWS waits about a minute, then two);
- an event that cannot run at all (its alias or version was deleted meanwhile) is
  journaled with that error's code as ``ErrorType`` and not retried, as AWS drops it;
- then it leaves the queue.

SIGTERM stops the worker as Ctrl-C stops an invoke: the function's process is killed,
and the event stays queued for the next worker (it runs again from the attempt that was
cut short).  Standard error (lambdaver's own failures only) goes to
``.lambdaver/events/worker.log``.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambdaver.errors import EXIT_INTERRUPTED, LambdaverError
from lambdaver.service import event_queue
from lambdaver.service import invoke as svc
from lambdaver.service.repository import DOT, Repository
from lambdaver.service.settings import Settings

if TYPE_CHECKING:
    from lambdaver.runtime import EnvironmentPool


def retry_delay(attempt: int) -> float:
    """Seconds to wait before attempt number ``attempt`` (2 or 3)."""
    base = svc.EVENT_RETRY_DELAY
    given = os.environ.get(svc.EVENT_RETRY_DELAY_ENV, "").strip()
    if given:
        try:
            base = max(0.0, float(given))
        except ValueError:
            pass
    return float(base * 2 ** max(0, attempt - 2))


def run_attempts(
    open_repo: Callable[[], Repository],
    *,
    qualifier: str | None,
    payload: bytes,
    request_id: str,
    routing_key: str | None = None,
    first: int = 1,
    on_failed: Callable[[int], None] | None = None,
    environments: EnvironmentPool | None = None,
    warn: Callable[[str], None] | None = None,
) -> None:
    """An Event's attempts ``first`` to 3, each on the repository ``open_repo`` gives then,
    with one request id: journaled with ``InvocationType: Event``, ``Attempt: N`` and the
    ``Response``; a function error is retried after :func:`retry_delay` (``on_failed(N)``
    is told first); an event that cannot run is journaled with its error and dropped.
    The queue's worker and ``lambdaver serve`` both run events so."""
    last = 1 + svc.EVENT_RETRIES
    for attempt in range(first, last + 1):
        if attempt > 1:
            time.sleep(retry_delay(attempt))
        repo = open_repo()
        journal = {"InvocationType": "Event", "Attempt": attempt}
        try:
            _version, result = svc.run_once(
                repo,
                qualifier=qualifier,
                payload=payload,
                routing_key=routing_key,
                request_id=request_id,
                journal=journal,
                keep_response=True,
                warn=warn,
                environments=environments,
            )
        except LambdaverError as exc:  # it cannot run now: dropped, as AWS drops it
            svc.journal_refusal(
                repo, request_id=request_id, qualifier=qualifier, error=exc, journal=journal
            )
            return
        if result.function_error is None:
            return
        if attempt < last and on_failed is not None:
            on_failed(attempt)


def run_event(root: str, claim: event_queue.Claim) -> None:
    """Run one claimed event to its end (success, a failure that is not retried, or its
    last attempt) and take it out of the queue."""
    import base64

    rec = claim.record
    settings = Settings(region=rec["Region"], account_id=rec["AccountId"])
    repo = Repository(root, settings)
    repo.check_format()
    qualifier = rec.get("Qualifier")
    payload = base64.b64decode(rec.get("Payload") or "")
    request_id = str(rec["RequestId"])
    run_attempts(
        lambda: repo, qualifier=qualifier, payload=payload, request_id=request_id,
        routing_key=rec.get("RoutingKey"), first=claim.attempts_done() + 1,
        on_failed=claim.record_attempt,
    )  # fmt: skip
    claim.finish()
    try:  # what the runs learnt ($LATEST's stat cache) is a cache: best effort
        repo.save_derived()
    except Exception:  # noqa: BLE001
        traceback.print_exc()


def drain(root: str, first: str | None) -> None:
    """Run ``first``, then every queued event nobody runs, until none is left."""
    dot = os.path.join(root, DOT)
    tried: set[str] = set()
    names = [first] if first else []
    while True:
        for name in names:
            tried.add(name)
            claim = event_queue.claim(dot, name)
            if claim is None:
                continue  # run (or being run) by another worker
            try:
                run_event(root, claim)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception:  # noqa: BLE001 - a bug: say so, keep the event, go on
                print(f"lambdaver: event {name}:", file=sys.stderr)
                traceback.print_exc()
            finally:
                claim.release()
        names = [n for n in event_queue.pending(dot) if n not in tried]
        if not names:
            break
    event_queue.sweep_attempts(dot)


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: python -m lambdaver.service.event_worker ROOT [NAME]", file=sys.stderr)
        return 2
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    root = os.path.abspath(args[0])
    try:
        os.chdir(root)
        drain(root, args[1] if len(args) > 1 else None)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
