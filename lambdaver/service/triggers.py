"""Delivery: event source mappings turned into invocations of the qualifier they name.

For an enabled SQS mapping, :func:`deliver_batch` receives up to ``BatchSize`` visible
messages of its queue (which makes them invisible for the queue's visibility timeout and
counts the receive, service/queues.py), builds the SQS event (lambda-semantics-2 §4.2),
and invokes the mapping's qualifier through the service's invoke (``run_once``: an alias
is resolved now and its weights apply; the handler runs in an execution environment,
never in this process).  Then, as Lambda's SQS poller does:

- the function succeeded: the batch is deleted from the queue; with
  ``FunctionResponseTypes: [ReportBatchItemFailures]`` all but the messages its
  ``batchItemFailures`` names are deleted (an invalid response fails the whole batch);
- the function failed (error, timeout, crash), or could not be invoked (its alias was
  deleted: journaled as ``PROBLEM: Function not found: ARN``): nothing is deleted, so the
  batch reappears after the visibility timeout, and a message received
  ``maxReceiveCount`` times goes to the dead-letter queue at its next receive.

Each delivery's journal entry (``lambdaver logs``) carries ``Trigger``: ``sqs:ARN via ESM
UUID``.  :func:`poll` delivers everything pending once (``triggers poll``);
:class:`DeliveryLoop` delivers continuously inside ``lambdaver serve``.  It sleeps in
``select`` on an inotify descriptor watching each function's ``.lambdaver/`` (``queue
send`` appends to ``queues.notify`` there), so a sent message wakes it at once and an idle
server spends no CPU on it; it also wakes when an invisible message becomes visible again
or a batching window closes.  Where inotify is missing it polls the files' ``stat``
every :data:`TICK` seconds instead.

:data:`PROVIDERS` lists the kinds of triggers ``triggers list`` shows (event source
mappings here; function URLs, buckets and schedules add their own).
"""

# str paths on purpose, as service/project.py's (pathlib costs start-up time)
# ruff: noqa: PTH116, PTH118

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lambdaver.errors import LambdaverError
from lambdaver.model.triggers import (
    REPORT_BATCH_ITEM_FAILURES,
    SQS,
    EventSourceMapping,
    QueueConfig,
    queue_arn,
)
from lambdaver.runtime.journal import TRIGGER
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.runtime import EnvironmentPool
    from lambdaver.service.queues import QueueStore
    from lambdaver.service.repository import Repository

#: How often the server's delivery loop looks at the databases' change counters.
TICK = 0.01
#: How often the server looks for changed bucket files and due schedules.
EVENTS_TICK = 0.5
#: How often it looks for functions created or deleted under the served directory.
RESCAN_SECONDS = 2.0


class Delivery(Value):
    """One batch delivered: to which mapping, how many messages, which failed."""

    uuid: str
    source: str
    messages: int
    failed: int  # messages left in the queue (the whole batch, or the reported items)
    error: str | None = None  # FunctionError or the code of a refusal
    executed_version: str | None = None


class PollSummary(Value):
    deliveries: list[Delivery]
    problems: list[str]
    events: int = 0  # bucket and schedule events delivered
    failed_events: int = 0  # of which the function failed

    def to_aws(self) -> dict[str, Any]:
        return {
            "Deliveries": len(self.deliveries),
            "Messages": sum(d.messages for d in self.deliveries),
            "Failures": sum(1 for d in self.deliveries if d.failed),
            "FailedMessages": sum(d.failed for d in self.deliveries),
            "Events": self.events,
            "FailedEvents": self.failed_events,
            "Problems": list(self.problems),
        }


def trigger_name(mapping: EventSourceMapping) -> str:
    """How a delivery's journal entry names its trigger."""
    return f"{mapping.kind}:{mapping.event_source_arn} via ESM {mapping.uuid}"


def _failed_items(payload: bytes, ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures response names; None: the response is
    invalid, so the whole batch failed (Lambda's rules)."""
    if not payload.strip():
        return set()
    try:
        response = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if response is None or not isinstance(response, dict):
        return set() if response in (None, {}) else None
    items = response.get("batchItemFailures")
    if not items:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident or ident not in ids:
            return None
        failed.add(ident)
    return failed


def deliver_batch(
    repo: Repository,
    mapping: EventSourceMapping,
    store: QueueStore,
    queue: QueueConfig,
    *,
    exclude: frozenset[str] = frozenset(),
    environments: EnvironmentPool | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Delivery, list[str]] | None:
    """Receive one batch and invoke the mapping's qualifier with it; None when the queue
    has no visible message (outside ``exclude``).  Also returns the batch's message ids."""
    from lambdaver.service import invoke as svc
    from lambdaver.service.queues import now_ms

    messages = store.receive(queue, mapping.batch_size, now_ms(), exclude=exclude)
    if not messages:
        return None
    arn = queue_arn(repo.settings.region, repo.settings.account_id, queue.name)
    event = {"Records": [m.record(arn, repo.settings.region) for m in messages]}
    payload = json.dumps(event).encode()
    ids = [m.message_id for m in messages]
    request_id = repo.new_id()
    journal = {"InvocationType": "RequestResponse", TRIGGER: trigger_name(mapping)}
    qualifier = mapping.qualifier
    try:
        version, result = svc.run_once(
            repo, qualifier=qualifier, payload=payload, request_id=request_id,
            journal=journal, warn=warn, environments=environments,
        )  # fmt: skip
    except LambdaverError as exc:
        from lambdaver.service.esm import check_error

        problem = check_error(exc)
        svc.journal_refusal(repo, request_id=request_id, qualifier=qualifier, error=exc,
                            journal={**journal, "LastProcessingResult": problem})  # fmt: skip
        return Delivery(mapping.uuid, arn, len(messages), len(messages), exc.code), ids
    if result.function_error is not None:
        return Delivery(mapping.uuid, arn, len(messages), len(messages),
                        result.function_error, version), ids  # fmt: skip
    keep: set[str] = set()
    if REPORT_BATCH_ITEM_FAILURES in mapping.response_types:
        failed = _failed_items(result.payload, set(ids))
        keep = set(ids) if failed is None else failed
    done = [m.receipt_handle for m in messages if m.message_id not in keep and m.receipt_handle]
    store.delete_messages(done)
    return Delivery(mapping.uuid, arn, len(messages), len(keep), None, version), ids


def _queue_of(repo: Repository, mapping: EventSourceMapping) -> tuple[QueueStore, QueueConfig]:
    """The store and definition of the mapping's queue; QueueDoesNotExist if it is gone."""
    from lambdaver.model.triggers import QueueDoesNotExist
    from lambdaver.service.esm import queue_root_of
    from lambdaver.service.queues import QueueStore
    from lambdaver.service.repository import DOT

    root = queue_root_of(repo, mapping) or repo.root
    store = QueueStore(os.path.join(root, DOT))
    name = mapping.event_source_arn.split(":")[5]
    queue = store.get(name)
    if queue is None:
        raise QueueDoesNotExist(name)
    return store, queue


def drain_mapping(
    repo: Repository,
    mapping: EventSourceMapping,
    *,
    environments: EnvironmentPool | None = None,
    warn: Callable[[str], None] | None = None,
    respect_window: bool = False,
) -> list[Delivery]:
    """Deliver the mapping's visible messages, batch by batch, each message at most once
    (one that failed and is visible again at once waits for the next poll).  With
    ``respect_window`` (the server), a batch smaller than BatchSize waits until its oldest
    message is ``MaximumBatchingWindowInSeconds`` old."""
    from lambdaver.service.queues import now_ms

    store, queue = _queue_of(repo, mapping)
    try:
        out: list[Delivery] = []
        seen: frozenset[str] = frozenset()
        while True:
            if respect_window and mapping.window > 0:
                count, oldest = store.oldest_visible_sent_ms(queue, now_ms())
                if count < mapping.batch_size and (
                    oldest is None or now_ms() - oldest < mapping.window * 1000
                ):
                    break
            done = deliver_batch(repo, mapping, store, queue, exclude=seen,
                                 environments=environments, warn=warn)  # fmt: skip
            if done is None:
                break
            delivery, ids = done
            out.append(delivery)
            seen = seen | frozenset(ids)
        return out
    finally:
        store.close()


def firing(repo: Repository) -> list[EventSourceMapping]:
    """The mappings of ``repo`` that deliver: enabled, from a queue."""
    from lambdaver.service.esm import mappings_of

    return [m for m in mappings_of(repo) if m.enabled and m.kind == SQS]


def poll(
    repos: Iterable[Repository],
    *,
    environments: EnvironmentPool | None = None,
    warn: Callable[[str], None] | None = None,
) -> PollSummary:
    """``triggers poll``: deliver everything pending once (what is invisible is not
    pending), then return what was done."""
    deliveries: list[Delivery] = []
    problems: list[str] = []
    events = failed = 0
    for repo in repos:
        for mapping in firing(repo):
            try:
                deliveries += drain_mapping(repo, mapping, environments=environments, warn=warn)
            except LambdaverError as exc:
                problems.append(
                    f"event source mapping {mapping.uuid} ({mapping.event_source_arn} -> "
                    f"{mapping.function_arn}): {exc.code}: {exc.message}"
                )
        done, failures, trouble = deliver_events(repo, environments=environments, warn=warn)
        events, failed = events + done, failed + failures
        problems += trouble
    return PollSummary(deliveries, problems, events, failed)


def event_providers() -> tuple[Any, ...]:
    """The trigger kinds that hand over events of their own (service/delivery.py's
    providers): buckets' changed files and due schedules."""
    from lambdaver.service import buckets, schedules

    return (buckets, schedules)


def deliver_events(
    repo: Repository,
    *,
    environments: EnvironmentPool | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[int, int, list[str]]:
    """Deliver what the buckets and schedules of ``repo`` have pending, each event one
    invocation of its qualifier (weights apply): ``(delivered, of which failed,
    problems)``.  An event that could not be delivered (its alias deleted, say) is a
    problem and stays pending where its provider keeps it so (a bucket's change)."""
    from lambdaver.service.delivery import local_invoker

    invoke = local_invoker(repo, environments)
    done = failed = 0
    problems: list[str] = []
    for provider in event_providers():
        try:
            due = provider.pending(repo, time.time_ns(), warn=warn)
        except LambdaverError as exc:
            problems.append(f"{provider.KIND}: {exc.code}: {exc.message}")
            continue
        for delivery in due:
            try:
                result = provider.deliver(repo, delivery, invoke)
            except LambdaverError as exc:
                problems.append(f"{delivery.trigger}: {exc.code}: {exc.message}")
                continue
            done += 1
            failed += bool(isinstance(result, dict) and result.get("FunctionError"))
    return done, failed, problems


# --- triggers list ----------------------------------------------------------------------


class Trigger(Value):
    """One trigger of a function: what fires it, which qualifier it invokes."""

    type: str
    id: str
    source: str
    function_arn: str
    qualifier: str | None
    state: str

    def to_aws(self) -> dict[str, Any]:
        return {
            "Type": self.type,
            "Id": self.id,
            "Source": self.source,
            "FunctionArn": self.function_arn,
            "Qualifier": self.qualifier,
            "State": self.state,
        }


class TriggerList(Value):
    triggers: list[Trigger]

    def to_aws(self) -> dict[str, Any]:
        return {"Triggers": [t.to_aws() for t in self.triggers]}


def _mapping_triggers(repo: Repository) -> list[Trigger]:
    from lambdaver.service.esm import mappings_of

    out = []
    for m in mappings_of(repo):
        state = ("Enabled" if m.enabled else "Disabled") if m.kind == SQS else "Kept (not fired)"
        out.append(Trigger(f"event-source-mapping:{m.kind}", m.uuid, m.event_source_arn,
                           m.function_arn, m.qualifier, state))  # fmt: skip
    return out


#: Who lists a function's triggers: each takes a repository and returns its triggers.
#: Function URLs, buckets and schedules append theirs (``PROVIDERS.append(f)``).
def _event_triggers(repo: Repository) -> list[Trigger]:
    keys = ("Type", "Id", "Source", "FunctionArn", "Qualifier", "State")
    return [
        Trigger(*(row[k] for k in keys))
        for provider in event_providers()
        for row in provider.describe(repo)
    ]


PROVIDERS: list[Callable[[Repository], list[Trigger]]] = [_mapping_triggers, _event_triggers]


def list_triggers(repos: Iterable[Repository]) -> TriggerList:
    out: list[Trigger] = []
    for repo in repos:
        for provider in PROVIDERS:
            out += provider(repo)
    return TriggerList(out)


# --- the server's delivery loop ---------------------------------------------------------


class DeliveryLoop:
    """Delivers continuously for the functions ``functions()`` names (``{name:
    directory}``), with ``pool``'s warm environments.  One thread watches; each mapping's
    batches run in a thread of their own (one at a time per mapping)."""

    def __init__(
        self,
        functions: Callable[[], dict[str, str]],
        settings: Any,
        pool: EnvironmentPool,
        warn: Callable[[str], None],
        prepare: Callable[[Repository], None] | None = None,
    ) -> None:
        self.functions = functions
        self.settings = settings
        self.pool = pool
        self.warn = warn
        self.prepare = prepare
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._busy: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="lambdaver-delivery", daemon=True)
        self._events = threading.Thread(
            target=self._run_events, name="lambdaver-events", daemon=True
        )
        self._reported: set[str] = set()

    def start(self) -> DeliveryLoop:
        self._thread.start()
        self._events.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching and wait (at most ``timeout`` s) for batches being delivered."""
        self._stop.set()
        self._poke()
        self._thread.join(timeout)
        self._events.join(timeout)
        until = time.monotonic() + timeout
        with self._lock:
            running = list(self._busy.values())
        for t in running:
            t.join(max(0.0, until - time.monotonic()))

    def _keys(self, dirs: list[str]) -> tuple[Any, ...]:
        from lambdaver.service import queues
        from lambdaver.service.repository import DOT

        out: list[Any] = []
        for d in dirs:
            dot = os.path.join(d, DOT)
            try:  # stat only: never a descriptor on a database (see queues.NOTIFY)
                st = os.stat(os.path.join(dot, "meta.sqlite"))
                meta: tuple[int, ...] = (st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                meta = ()
            out.append((meta, queues.change_key(dot)))
        return tuple(out)

    def _run(self) -> None:
        import select

        watcher = _Inotify.make()
        dirs: list[str] = []
        rescan_at = 0.0
        last: tuple[Any, ...] | None = None
        due: float | None = None
        woken = True
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= rescan_at:
                    try:
                        dirs = sorted(set(self.functions().values()))
                    except Exception as exc:  # noqa: BLE001 - keep serving; say it once
                        self._once("functions", f"delivery: cannot list the functions: {exc}")
                    if watcher is not None:
                        watcher.watch(dirs)
                    rescan_at = now + RESCAN_SECONDS
                    woken = True
                keys = self._keys(dirs) if watcher is None else None
                if woken or keys != last or (due is not None and now >= due):
                    last = keys
                    due = self._pass(dirs)
                limit = TICK if watcher is None else rescan_at - time.monotonic()
                if due is not None:
                    limit = min(limit, due - time.monotonic())
                fds = [self._wake_r] + ([watcher.fd] if watcher is not None else [])
                ready, _w, _x = select.select(fds, [], [], max(0.0, limit))
                woken = bool(ready)
                for fd in ready:
                    _drain_fd(fd)
        finally:
            if watcher is not None:
                watcher.close()

    def _run_events(self) -> None:
        """Buckets and schedules: every :data:`EVENTS_TICK` seconds, deliver what their
        providers have pending (a bucket's folder is rescanned then; a schedule fires
        within that time of its due time)."""
        from lambdaver.service.repository import Repository

        while not self._stop.wait(EVENTS_TICK):
            try:
                dirs = sorted(set(self.functions().values()))
            except Exception:  # noqa: BLE001, S112 - the mappings' loop reports it
                continue
            for d in dirs:
                if self._stop.is_set():
                    return
                try:
                    repo = Repository(d, self.settings)
                    if self.prepare is not None:
                        self.prepare(repo)
                    _done, _failed, problems = deliver_events(
                        repo, environments=self.pool, warn=self.warn
                    )
                except Exception as exc:  # noqa: BLE001 - a delivery never takes the server down
                    problems = [f"{d}: {exc}"]
                for problem in problems:
                    self._once(f"events:{problem}", f"delivery: {problem}")

    def _once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.warn(message)

    def _pass(self, dirs: list[str]) -> float | None:
        """Start deliveries for mappings with visible messages; when (monotonic) the next
        invisible message becomes visible or a batching window closes."""
        from lambdaver.service.queues import now_ms
        from lambdaver.service.repository import Repository

        next_ms: int | None = None
        for d in dirs:
            try:
                repo = Repository(d, self.settings)
                mappings = firing(repo)
            except Exception as exc:  # noqa: BLE001
                self._once(f"repo:{d}", f"delivery: {d}: {exc}")
                continue
            for mapping in mappings:
                try:
                    store, queue = _queue_of(repo, mapping)
                except LambdaverError as exc:
                    self._once(f"queue:{mapping.uuid}", (
                        f"event source mapping {mapping.uuid}: queue "
                        f"{mapping.event_source_arn}: {exc.message}"
                    ))  # fmt: skip
                    continue
                try:
                    at = now_ms()
                    count, oldest = store.oldest_visible_sent_ms(queue, at)
                    upcoming = store.next_visible_ms(queue)
                finally:
                    store.close()
                if count:
                    if mapping.window > 0 and count < mapping.batch_size and oldest is not None:
                        closes = oldest + mapping.window * 1000
                        if closes > at:
                            next_ms = closes if next_ms is None else min(next_ms, closes)
                            continue
                    self._start(d, mapping)
                elif upcoming is not None and upcoming > at:
                    next_ms = upcoming if next_ms is None else min(next_ms, upcoming)
        if next_ms is None:
            return None
        return time.monotonic() + max(0, next_ms - now_ms()) / 1000

    def _start(self, directory: str, mapping: EventSourceMapping) -> None:
        with self._lock:
            if mapping.uuid in self._busy or self._stop.is_set():
                return
            t = threading.Thread(target=self._drain, args=(directory, mapping),
                                 name=f"lambdaver-esm-{mapping.uuid[:8]}", daemon=True)  # fmt: skip
            self._busy[mapping.uuid] = t
        t.start()

    def _drain(self, directory: str, mapping: EventSourceMapping) -> None:
        from lambdaver.service.repository import Repository

        try:
            repo = Repository(directory, self.settings)
            if self.prepare is not None:
                self.prepare(repo)
            drain_mapping(repo, mapping, environments=self.pool, respect_window=True,
                          warn=self.warn)  # fmt: skip
            try:
                repo.save_derived()
            except Exception:  # noqa: BLE001, S110 - a cache
                pass
        except Exception as exc:  # noqa: BLE001 - a delivery never takes the server down
            self.warn(f"event source mapping {mapping.uuid}: delivery failed: {exc}")
        finally:
            with self._lock:
                self._busy.pop(mapping.uuid, None)
            self._poke()

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b".")
        except OSError:
            pass  # the pipe is full: a wake-up is pending anyway


def _drain_fd(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


class _Inotify:
    """Linux's inotify through ctypes: one descriptor, readable when a file in a watched
    directory is created, written, renamed in or deleted."""

    # IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE (not IN_CLOSE_WRITE: closing a
    # database opened read-write, as every read of this loop does, is no change)
    MASK = 0x2 | 0x80 | 0x100 | 0x200

    def __init__(self, libc: Any, fd: int) -> None:
        self.libc = libc
        self.fd = fd
        self.watched: dict[str, int] = {}

    @classmethod
    def make(cls) -> _Inotify | None:
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(libc, fd) if fd >= 0 else None

    def watch(self, dirs: list[str]) -> None:
        from lambdaver.service.repository import DOT

        wanted = {os.path.join(d, DOT) for d in dirs}
        for path in set(self.watched) - wanted:
            self.libc.inotify_rm_watch(self.fd, self.watched.pop(path))
        for path in wanted - set(self.watched):
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.MASK)
            if wd >= 0:
                self.watched[path] = wd

    def close(self) -> None:
        os.close(self.fd)


def start_delivery(
    functions: Callable[[], dict[str, str]],
    settings: Any,
    pool: EnvironmentPool,
    warn: Callable[[str], None],
    prepare: Callable[[Repository], None] | None = None,
) -> DeliveryLoop:
    """Start the server's delivery loop (lambdaver/server/run.py's hook)."""
    return DeliveryLoop(functions, settings, pool, warn, prepare).start()
