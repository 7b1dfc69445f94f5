"""invoke, logs and metrics: run exactly the code and configuration a qualifier names.

The qualifier is resolved (an alias with weights picks its additional version with that
probability, or by a routing key's hash), the version's frozen tree is materialised
read-only (verified, reused across invocations), the runtime runs the handler in its own
process, and the invocation is appended to the journal (``.lambdaver/journal/``).
``$LATEST`` runs through the same path: its files are stored as blobs (no version is
created; ``gc`` collects blobs no version uses) and materialised like a version's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidRequestContentException,
    LambdaverError,
    RequestEntityTooLargeException,
)
from lambdaver.model.config import FunctionConfig
from lambdaver.model.names import LATEST
from lambdaver.model.records import AliasState
from lambdaver.service.functions import Resolved, resolve
from lambdaver.service.repository import Repository
from lambdaver.storage.tree import ManifestEntry
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.model.results import Logs, Metrics
    from lambdaver.runtime import ClientContext, EnvironmentPool, InvokeResult

MAX_PAYLOAD = 6_291_456
#: Largest client context (its base64 text), as AWS's Invoke documents.
MAX_CLIENT_CONTEXT = 3583


class InvokeOutput(Value):
    status_code: int
    payload: bytes
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None

    def to_aws(self) -> dict[str, Any]:
        """The aws CLI's printed fields, in its order."""
        out: dict[str, Any] = {"StatusCode": self.status_code}
        if self.function_error is not None:
            out["FunctionError"] = self.function_error
        if self.log_result is not None:
            out["LogResult"] = self.log_result
        if self.executed_version is not None:
            out["ExecutedVersion"] = self.executed_version
        return out


def check_payload(payload: bytes) -> None:
    """Refuse a payload before anything runs: too large, or not JSON."""
    if len(payload) > MAX_PAYLOAD:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation"
        )
    if payload.strip():
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {exc}"
            ) from exc


def parse_client_context(text: str | None) -> ClientContext | None:
    """The client context of ``X-Amz-Client-Context`` / ``--client-context`` (base64 of a
    JSON object, at most :data:`MAX_CLIENT_CONTEXT` bytes), decoded; None when not given.
    Anything else is refused before anything runs, with AWS's error."""
    if text is None:
        return None
    if len(text.encode("utf-8", "surrogateescape")) > MAX_CLIENT_CONTEXT:
        raise InvalidRequestContentException(
            f"Client context must be at most {MAX_CLIENT_CONTEXT} bytes of base64-encoded data"
        )
    import base64
    import binascii

    def not_json(constant: str) -> Any:  # NaN, Infinity: Python's, not JSON
        raise ValueError(constant)

    try:
        data = json.loads(base64.b64decode(text, validate=True), parse_constant=not_json)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        )
    return data


def pick_version(alias: AliasState, routing_key: str | None) -> str:
    """The primary version, or the additional one with its weight's probability.  With a
    routing key the choice is sticky: the key's hash, as a fraction, against the weight."""
    extra = alias.additional_version
    if extra is None:
        return alias.version
    weight = alias.weights[extra]
    if routing_key is not None:
        from lambdaver.storage.hashing import sha256_small

        digest = sha256_small(routing_key.encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
    else:  # os.urandom rather than the random module: one import less at start-up
        draw = int.from_bytes(os.urandom(8), "big") / 2**64
    return extra if draw < weight else alias.version


def invoke(
    repo: Repository,
    *,
    qualifier: str | None,
    payload: bytes = b"",
    log_type: str = "None",
    invocation_type: str = "RequestResponse",
    routing_key: str | None = None,
    warn: Callable[[str], None] | None = None,
    environments: EnvironmentPool | None = None,
    trigger: str | None = None,
    client_context: ClientContext | None = None,
    request_id: str | None = None,
) -> InvokeOutput:
    """Run ``qualifier``'s code once.  ``environments``: where the version's execution
    environment comes from (default: a new one, stopped after the invocation);
    ``trigger``: what invoked it, journaled as ``Trigger`` (``function-url:URLID``);
    ``client_context``: what :func:`parse_client_context` made of the caller's, handed to
    the function; ``request_id``: the invocation's (default: a new one), as the server
    answers it in ``x-amzn-RequestId``.

    ``invocation_type`` ``Event``: the event is checked, queued durably and handed to a
    background worker; the answer (202) comes at once (see :func:`accept_event`).  The
    client context is not passed on: AWS gives it to synchronous invocations only."""
    if invocation_type == "Event":
        accept_event(repo, qualifier=qualifier, payload=payload, routing_key=routing_key, warn=warn)
        return InvokeOutput(status_code=202, payload=b"")
    check_payload(payload)
    res = resolve(repo, qualifier)
    if invocation_type == "DryRun":
        return InvokeOutput(status_code=204, payload=b"")
    from lambdaver.runtime import log_tail_base64

    version, result = run_once(
        repo,
        qualifier=qualifier,
        payload=payload,
        resolved=res,
        routing_key=routing_key,
        journal={"InvocationType": invocation_type, **({"Trigger": trigger} if trigger else {})},
        warn=warn,
        environments=environments,
        client_context=client_context,
        request_id=request_id,
    )
    return InvokeOutput(
        status_code=200,
        payload=result.payload,
        executed_version=version,
        function_error=result.function_error,
        log_result=log_tail_base64(result.log) if log_type == "Tail" else None,
    )


def run_once(
    repo: Repository,
    *,
    qualifier: str | None,
    payload: bytes,
    resolved: Resolved | None = None,
    routing_key: str | None = None,
    request_id: str | None = None,
    journal: dict[str, Any] | None = None,
    keep_response: bool = False,
    warn: Callable[[str], None] | None = None,
    environments: EnvironmentPool | None = None,
    client_context: ClientContext | None = None,
) -> tuple[str, InvokeResult]:
    """Resolve ``qualifier`` (unless ``resolved`` is given), pick the version (weights
    apply), run it once (the function sees ``client_context``) and journal the
    invocation (with the ``journal`` fields added, and with ``keep_response`` the
    function's response as ``Response``, for an Event, whose caller never sees it): the
    version that ran and what it produced."""
    res = resolved if resolved is not None else resolve(repo, qualifier)
    version = pick_version(res.alias, routing_key) if res.alias is not None else res.version
    config, manifest, tree = _code_of(repo, version)
    from lambdaver.storage.derived import RUN
    from lambdaver.storage.materialize import materialize

    code_dir = materialize(repo.store, manifest, repo.derived_file(RUN), tree)

    from lambdaver.runtime import EnvironmentSpec, OneShotPool

    pool = environments or OneShotPool()
    environment = pool.acquire(
        EnvironmentSpec(
            code_dir=code_dir,
            handler=config.handler,
            runtime=config.runtime,
            environment=dict(config.environment or {}),
            function_name=repo.name,
            function_version=version,
            memory_size=config.memory_size,
            timeout=config.timeout,
            region=repo.settings.region,
            # $LATEST runs from a copy of the function's directory: tracebacks name its files
            source_dir=repo.root if version == LATEST else None,
        ),
        warn,
    )
    request_id = request_id or repo.new_id()
    try:
        result = environment.invoke(
            payload,
            request_id=request_id,
            invoked_function_arn=repo.arns.function(qualifier),
            client_context=client_context,
        )
    finally:
        pool.release(environment)
    _journal(repo).append(
        {
            "RequestId": request_id,
            "Time": repo.now(),
            "Qualifier": qualifier,
            "ExecutedVersion": version,
            "DurationMs": round(result.duration_ms, 2),
            "BilledDurationMs": result.billed_duration_ms,
            "MaxMemoryUsedMB": result.max_memory_used_mb,
            "ErrorType": result.error_type,
            "Log": result.log,
            **(journal or {}),
            **({"Response": _kept_response(result.payload)} if keep_response else {}),
        }
    )
    return version, result


#: The largest response an Event's journal entry keeps (the journal rotates at 8 MB).
MAX_KEPT_RESPONSE = 262_144


def _kept_response(payload: bytes) -> Any:
    """The response as JSON (null for an empty one), or a note when it is too large."""
    if len(payload) > MAX_KEPT_RESPONSE:
        return f"[lambdaver: a response of {len(payload)} bytes is not kept]"
    if not payload.strip():
        return None
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload.decode("utf-8", "replace")


# --- Event invocations -------------------------------------------------------------------

#: An Event invocation's payload limit: 1 MB (262144 bytes, 256 KB, until 2025).
MAX_EVENT_PAYLOAD = 1_048_576
#: How many times a failed event is retried (so it runs at most three times), as in AWS.
EVENT_RETRIES = 2
#: Seconds before the first retry (doubled before the second); AWS waits about one
#: minute, then two.  ``LAMBDAVER_EVENT_RETRY_DELAY`` overrides it.
EVENT_RETRY_DELAY = 2.0
EVENT_RETRY_DELAY_ENV = "LAMBDAVER_EVENT_RETRY_DELAY"
#: The module the background worker runs (``python -m``).
EVENT_WORKER = "lambdaver.service.event_worker"


def check_event_payload(payload: bytes) -> None:
    """An Event's payload: JSON, at most :data:`MAX_EVENT_PAYLOAD` bytes."""
    if len(payload) > MAX_EVENT_PAYLOAD:
        raise RequestEntityTooLargeException(
            f"{len(payload)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_EVENT_PAYLOAD} bytes)"
        )
    check_payload(payload)


def accept_event(
    repo: Repository,
    *,
    qualifier: str | None,
    payload: bytes,
    routing_key: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """Accept an Event invocation: check the payload and the qualifier now (a refusal is
    synchronous, and queues nothing), write the event durably into the queue
    (service/event_queue.py), and start a detached worker that runs it (the version is
    chosen when it runs, as in AWS) and retries it.  Returns its request id.

    A worker that cannot be started leaves the event queued: the next accepted event's
    worker runs it (a warning says so)."""
    check_event_payload(payload)
    resolve(repo, qualifier)
    import base64
    import sys

    from lambdaver.runtime.background import spawn_detached
    from lambdaver.service import event_queue

    request_id = repo.new_id()
    record = {
        "RequestId": request_id,
        "Qualifier": qualifier,
        "RoutingKey": routing_key,
        "Payload": base64.b64encode(payload).decode("ascii"),
        "AcceptedAt": repo.now(),
        "Region": repo.settings.region,
        "AccountId": repo.settings.account_id,
    }
    with _InterruptsHeld():  # queued and handed to a worker, or neither
        name = event_queue.enqueue(repo.dot, record, repo.clock())
        try:
            spawn_detached(
                [sys.executable, "-m", EVENT_WORKER, repo.root, name],
                log_path=os.path.join(event_queue.events_dir(repo.dot), event_queue.WORKER_LOG),
            )
        except OSError as exc:
            (warn or _print_warning)(
                f"the background worker could not be started ({exc}): the event stays "
                "queued in .lambdaver/events/ and runs when the next Event invocation is "
                "accepted"
            )
    return request_id


def _print_warning(message: str) -> None:
    import sys

    print(f"lambdaver: warning: {message}", file=sys.stderr, flush=True)


class _InterruptsHeld:
    """Hold SIGINT back (it stays pending, raised at the end) while the event is written
    and its worker started, so that Ctrl-C never leaves one done without the other."""

    def __enter__(self) -> None:
        import signal

        self.restore = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, self.restore)


def journal_refusal(
    repo: Repository, *, request_id: str, qualifier: str | None, error: LambdaverError,
    journal: dict[str, Any],
) -> None:  # fmt: skip
    """Journal an Event that could not run when its turn came (its alias or version is
    gone, the repository is unreadable): no version ran, the error's code as ErrorType."""
    _journal(repo).append(
        {
            "RequestId": request_id,
            "Time": repo.now(),
            "Qualifier": qualifier,
            "ExecutedVersion": None,
            "DurationMs": 0.0,
            "BilledDurationMs": 0,
            "MaxMemoryUsedMB": 0,
            "ErrorType": error.code,
            "Log": f"{error.code}: {error.message}\n",
            **journal,
        }
    )


def invoke_repeated(
    repo: Repository, times: int, *, qualifier: str | None, payload: bytes = b"", **how: Any
) -> dict[str, Any]:
    """Invoke ``qualifier`` ``times`` times (each journaled as usual) and count how many
    ran each version and how many returned a function error: a quick look at how a
    weighted alias splits its traffic.  An interrupt stops at once: the invocations that
    finished are in the journal, and no summary is made."""
    versions: dict[str, int] = {}
    errors = 0
    for _ in range(times):
        out = invoke(repo, qualifier=qualifier, payload=payload, **how)
        version = str(out.executed_version)
        versions[version] = versions.get(version, 0) + 1
        errors += out.function_error is not None

    def order(v: str) -> tuple[int, int]:
        return (0, 0) if v == LATEST else (1, int(v) if v.isdigit() else 0)

    return {
        "Invocations": times,
        "Versions": {v: versions[v] for v in sorted(versions, key=order)},
        "FunctionErrors": errors,
    }


def _code_of(
    repo: Repository, version: str
) -> tuple[FunctionConfig, Callable[[], list[ManifestEntry]], str]:
    """Configuration, manifest (read only if called: an intact materialised copy does not
    need it) and tree hash of ``version`` ($LATEST: its blobs stored first)."""
    if version == LATEST:
        # Blobs only, no version and no stat-cache update: nothing durable refers to
        # these blobs, so they need no sync (and gc may collect them).
        with repo.lock.held():
            config = repo.reload_function().config
            state = repo.scan_latest(store=True)
        return config, lambda: state.manifest, state.tree
    from lambdaver.service.functions import get_version_record, read_manifest

    rec = get_version_record(repo, version)
    if rec is None:  # deleted between resolving and running
        from lambdaver.errors import ResourceNotFoundException

        raise ResourceNotFoundException(f"Function not found: {repo.arns.function(version)}")
    return rec.config, lambda: read_manifest(repo, rec.tree), rec.tree


def _journal(repo: Repository) -> Any:
    from lambdaver.runtime.journal import Journal

    return Journal(os.path.join(repo.dot, "journal"))


# --- logs and metrics ------------------------------------------------------------------


def _matches(entry: dict[str, Any], qualifier: str | None) -> bool:
    if qualifier is None:
        return True
    if qualifier == LATEST or qualifier.isdigit():
        return bool(entry.get("ExecutedVersion") == qualifier)
    return bool(entry.get("Qualifier") == qualifier)


def logs(
    repo: Repository,
    *,
    qualifier: str | None = None,
    tail: int | None = None,
    request_id: str | None = None,
    since_seconds: float | None = None,
) -> Logs:
    """Past invocations, oldest first: a version number or ``$LATEST`` selects what that
    version ran; an alias name selects what was invoked through it; ``since_seconds``
    keeps those of the last so many seconds."""
    from lambdaver.model.results import Logs

    keep = _selector(repo, qualifier, request_id, since_seconds)
    events = [e for e in _journal(repo).entries() if keep(e)]
    if tail is not None:
        events = events[-tail:] if tail > 0 else []
    return Logs(events)


def _selector(
    repo: Repository, qualifier: str | None, request_id: str | None, since_seconds: float | None
) -> Callable[[dict[str, Any]], bool]:
    # Times are all AWS's fixed-width UTC format, so they compare as strings.
    cutoff = None
    if since_seconds is not None:
        from lambdaver.model.timefmt import aws_time

        cutoff = aws_time(repo.clock() - int(since_seconds * 1_000_000_000))

    def keep(e: dict[str, Any]) -> bool:
        return (
            _matches(e, qualifier)
            and (request_id is None or e.get("RequestId") == request_id)
            and (cutoff is None or str(e.get("Time", "")) >= cutoff)
        )

    return keep


def follow_logs(
    repo: Repository,
    *,
    qualifier: str | None = None,
    tail: int | None = None,
    request_id: str | None = None,
    since_seconds: float | None = None,
    poll_seconds: float = 0.2,
) -> Iterator[list[dict[str, Any]]]:
    """``logs``'s events, then, batch by batch, the entries appended to the journal since,
    for ever (the caller stops on an interrupt).  The journal's file is polled every
    ``poll_seconds`` from where the last read ended; a rotation is followed (the rest of
    the rotated file is read first), so no entry is lost or shown twice."""
    import time

    from lambdaver.runtime.journal import JournalTail

    keep = _selector(repo, qualifier, request_id, since_seconds)
    follow = JournalTail(os.path.dirname(_journal(repo).path))  # before the first read
    first = logs(
        repo, qualifier=qualifier, tail=tail, request_id=request_id, since_seconds=since_seconds
    ).events
    yield first
    # Entries appended between the tail's start and that read were shown already.
    shown = {e.get("RequestId") for e in first}
    while True:
        time.sleep(poll_seconds)
        batch = [e for e in follow.poll() if keep(e) and e.get("RequestId") not in shown]
        shown = set()
        if batch:
            yield batch


def metrics(repo: Repository, *, qualifier: str | None = None) -> Metrics:
    """Invocations, errors, timeouts and p50/p95/max duration per executed version."""
    from lambdaver.model.results import Metrics, VersionMetrics

    per: dict[str, list[dict[str, Any]]] = {}
    for e in _journal(repo).entries():
        if _matches(e, qualifier):
            per.setdefault(str(e.get("ExecutedVersion")), []).append(e)

    def order(v: str) -> tuple[int, int]:
        return (0, 0) if v == LATEST else (1, int(v) if v.isdigit() else 0)

    out = []
    for version in sorted(per, key=order):
        entries = per[version]
        durations = sorted(float(e.get("DurationMs") or 0.0) for e in entries)
        out.append(
            VersionMetrics(
                version,
                len(entries),
                sum(1 for e in entries if e.get("ErrorType")),
                sum(1 for e in entries if e.get("ErrorType") == "Sandbox.Timedout"),
                _percentile(durations, 0.50),
                _percentile(durations, 0.95),
                durations[-1] if durations else 0.0,
            )
        )
    return Metrics(out)


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0.0
    import math

    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]
