"""Local queues (a stand-in for SQS standard queues): create, send, list, receive, delete.

A function's queues live in its repository, in their own SQLite database
``.lambdaver/queues.sqlite`` (definitions, messages, and the event source mappings that
consume each queue), apart from the metadata store so that message traffic never
invalidates the metadata's memos.  Every change is one ``BEGIN IMMEDIATE`` transaction
in rollback-journal mode with ``synchronous=FULL``: a message is on disk (fsynced) before
``queue send`` prints its MessageId, and a receive (which makes messages invisible for the
visibility timeout, counts the receive, and moves messages past ``maxReceiveCount`` to the
dead-letter queue) commits entirely or not at all.  So a ``kill -9`` at any point loses
no acknowledged message: one received but not deleted reappears when its visibility
timeout ends, as in SQS (at-least-once).

The database's change counter (SQLite's header, read without SQLite) tells a watcher
(the server's delivery loop) cheaply that something was sent or changed.
"""

# str paths on purpose, as service/project.py's (pathlib costs start-up time)
# ruff: noqa: PTH110, PTH116, PTH118

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lambdaver.model.triggers import (
    DEFAULT_VISIBILITY_TIMEOUT,
    LOCAL_SENDER,
    Message,
    QueueConfig,
    QueueDoesNotExist,
    QueueInfo,
    QueueList,
    QueueNameExists,
    ReceivedMessages,
    ResourceInUseException,
    SentMessage,
    SqsInvalidParameterValue,
    queue_arn,
    validate_body,
    validate_max_receive_count,
    validate_queue_name,
    validate_visibility_timeout,
)

if TYPE_CHECKING:
    import sqlite3

    from lambdaver.service.repository import Repository

QUEUES_DB = "queues.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, id TEXT NOT NULL, visibility_timeout INTEGER NOT NULL,
    dlq TEXT, max_receive_count INTEGER, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id TEXT NOT NULL, message_id TEXT NOT NULL, body TEXT NOT NULL, md5 TEXT NOT NULL,
    sent_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER, visible_at_ms INTEGER NOT NULL, receipt TEXT,
    sender TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue_id, visible_at_ms, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_receipt ON messages (receipt);
CREATE TABLE IF NOT EXISTS consumers (
    uuid TEXT PRIMARY KEY, queue TEXT NOT NULL, function_root TEXT NOT NULL,
    function_arn TEXT NOT NULL
);
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def db_path(dot: str) -> str:
    return os.path.join(dot, QUEUES_DB)


#: A file ``queue send`` appends one byte to after each message, so that a watcher sees
#: a change with one ``stat`` (reading the database's header instead would need a file
#: descriptor on it, and closing that descriptor drops the POSIX locks the watching
#: process's own SQLite connections hold on the file).
NOTIFY = "queues.notify"
NOTIFY_MAX = 4096


def change_key(dot: str) -> tuple[int, ...] | None:
    """Something that changes when a message is sent or the queues change: the
    ``stat`` of the notification file and of the database (no descriptor opened)."""
    out: list[int] = []
    for name in (NOTIFY, QUEUES_DB):
        try:
            st = os.stat(os.path.join(dot, name))
        except OSError:
            out += [0, 0, 0]
            continue
        out += [st.st_ino, st.st_size, st.st_mtime_ns]
    return tuple(out) if any(out) else None


def notify(dot: str) -> None:
    """Wake a watching server: one byte appended (the file restarts past NOTIFY_MAX)."""
    path = os.path.join(dot, NOTIFY)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if os.fstat(fd).st_size >= NOTIFY_MAX:
                os.ftruncate(fd, 0)
            os.write(fd, b".")
        finally:
            os.close(fd)
    except OSError:
        pass  # a wake-up only: the server's next scan finds the message anyway


class QueueStore:
    """The queues of one repository (``dot``: its ``.lambdaver/``)."""

    def __init__(self, dot: str) -> None:
        self.dot = dot
        self.path = db_path(dot)
        self._conn: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return os.path.exists(self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            import sqlite3

            new = not os.path.exists(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0,
                                   check_same_thread=False)  # fmt: skip
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=FULL")
            if new:
                conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
                from lambdaver.storage.fileutil import fsync_dir

                fsync_dir(self.dot)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- reading -------------------------------------------------------------------------

    def get(self, name: str) -> QueueConfig | None:
        if not self.exists:
            return None
        row = self.conn.execute(
            "SELECT name, id, visibility_timeout, dlq, max_receive_count, created_ms "
            "FROM queues WHERE name=?",
            (name,),
        ).fetchone()
        return QueueConfig(*row) if row else None

    def all(self) -> list[QueueConfig]:
        if not self.exists:
            return []
        rows = self.conn.execute(
            "SELECT name, id, visibility_timeout, dlq, max_receive_count, created_ms "
            "FROM queues ORDER BY name"
        ).fetchall()
        return [QueueConfig(*r) for r in rows]

    def counts(self, queue: QueueConfig, at_ms: int) -> tuple[int, int]:
        """(visible, in flight) messages of ``queue`` at ``at_ms``."""
        row = self.conn.execute(
            "SELECT SUM(visible_at_ms <= ?), SUM(visible_at_ms > ?) FROM messages WHERE queue_id=?",
            (at_ms, at_ms, queue.id),
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def next_visible_ms(self, queue: QueueConfig) -> int | None:
        """When the next message of ``queue`` is (or becomes) visible; None: empty."""
        if not self.exists:
            return None
        row = self.conn.execute(
            "SELECT MIN(visible_at_ms) FROM messages WHERE queue_id=?", (queue.id,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def oldest_visible_sent_ms(self, queue: QueueConfig, at_ms: int) -> tuple[int, int | None]:
        """How many messages are visible at ``at_ms``, and the oldest one's send time."""
        row = self.conn.execute(
            "SELECT COUNT(*), MIN(sent_ms) FROM messages WHERE queue_id=? AND visible_at_ms<=?",
            (queue.id, at_ms),
        ).fetchone()
        return int(row[0]), (None if row[1] is None else int(row[1]))

    def consumers(self, name: str) -> list[tuple[str, str, str]]:
        """(uuid, function root, function ARN) of the mappings recorded as consuming
        queue ``name``."""
        if not self.exists:
            return []
        return [
            (str(a), str(b), str(c))
            for a, b, c in self.conn.execute(
                "SELECT uuid, function_root, function_arn FROM consumers WHERE queue=? "
                "ORDER BY uuid",
                (name,),
            )
        ]

    # --- changing ------------------------------------------------------------------------

    def add_consumer(self, uuid: str, queue: str, function_root: str, function_arn: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO consumers (uuid, queue, function_root, function_arn) "
                "VALUES (?, ?, ?, ?)",
                (uuid, queue, function_root, function_arn),
            )

    def remove_consumer(self, uuid: str) -> None:
        if self.exists:
            with self.transaction() as c:
                c.execute("DELETE FROM consumers WHERE uuid=?", (uuid,))

    def send(self, queue: QueueConfig, body: str, at_ms: int, message_id: str) -> str:
        import hashlib

        md5 = hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM queues WHERE id=?", (queue.id,)).fetchone() is None:
                raise QueueDoesNotExist(queue.name)
            c.execute(
                "INSERT INTO messages (queue_id, message_id, body, md5, sent_ms, visible_at_ms, "
                "sender) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (queue.id, message_id, body, md5, at_ms, at_ms, LOCAL_SENDER),
            )
        return md5

    def receive(
        self,
        queue: QueueConfig,
        max_messages: int,
        at_ms: int,
        visibility_timeout: int | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Message]:
        """SQS's ReceiveMessage: up to ``max_messages`` visible messages, oldest first,
        each made invisible for the visibility timeout with a new receipt handle and its
        receive count raised.  A message already received ``maxReceiveCount`` times is
        moved to the dead-letter queue instead (as SQS's redrive policy does).  Messages
        whose id is in ``exclude`` are left alone."""
        vt = queue.visibility_timeout if visibility_timeout is None else visibility_timeout
        dlq = self.get(queue.dead_letter_queue) if queue.dead_letter_queue else None
        out: list[Message] = []
        with self.transaction() as c:
            after = 0  # by sequence: a message taken (visible again at once with 0 s) is not
            while len(out) < max_messages:  # taken twice
                rows = c.execute(
                    "SELECT seq, message_id, body, md5, sent_ms, receive_count, "
                    "first_receive_ms, sender FROM messages "
                    "WHERE queue_id=? AND visible_at_ms<=? AND seq>? ORDER BY seq LIMIT ?",
                    (queue.id, at_ms, after, max_messages - len(out) + len(exclude)),
                ).fetchall()
                if not rows:
                    break
                for seq, mid, body, md5, sent, count, first, sender in rows:
                    after = seq
                    if mid in exclude:
                        continue
                    if len(out) >= max_messages:
                        break
                    if (
                        dlq is not None
                        and queue.max_receive_count is not None
                        and count >= queue.max_receive_count
                    ):
                        c.execute(
                            "UPDATE messages SET queue_id=?, receive_count=0, "
                            "first_receive_ms=NULL, visible_at_ms=?, receipt=NULL WHERE seq=?",
                            (dlq.id, at_ms, seq),
                        )
                        continue
                    receipt = os.urandom(24).hex() + f"-{seq}"
                    c.execute(
                        "UPDATE messages SET receive_count=?, first_receive_ms=?, "
                        "visible_at_ms=?, receipt=? WHERE seq=?",
                        (count + 1, first or at_ms, at_ms + vt * 1000, receipt, seq),
                    )
                    out.append(
                        Message(mid, body, md5, sent, count + 1, first or at_ms, receipt, sender)
                    )
        return out

    def delete_messages(self, receipts: list[str]) -> int:
        """Delete the messages whose current receipt handle is one of ``receipts``."""
        if not receipts:
            return 0
        with self.transaction() as c:
            n = 0
            for r in receipts:
                n += c.execute("DELETE FROM messages WHERE receipt=?", (r,)).rowcount
        return n

    def release(self, receipts: list[str], at_ms: int) -> None:
        """Make received messages visible again now (ChangeMessageVisibility 0)."""
        with self.transaction() as c:
            for r in receipts:
                c.execute("UPDATE messages SET visible_at_ms=? WHERE receipt=?", (at_ms, r))


# --- operations ---------------------------------------------------------------------------


def _store(repo: Repository) -> QueueStore:
    return QueueStore(repo.dot)


def _not_found(repo: Repository, name: str) -> QueueDoesNotExist:
    return QueueDoesNotExist(
        name,
        f" (lambdaver: no queue {name} in the repository of function {repo.name}; "
        f"create it there with `lambdaver queue create {name}`)",
    )


def get_queue(repo: Repository, name: str) -> QueueConfig:
    validate_queue_name(name)
    q = _store(repo).get(name)
    if q is None:
        raise _not_found(repo, name)
    return q


def _dlq_name(repo: Repository, given: str) -> str:
    """A dead-letter queue given by name or by ARN (of this repository's region and
    account)."""
    if given.startswith("arn:"):
        parts = given.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise SqsInvalidParameterValue(
                f"Value {given} for parameter RedrivePolicy is invalid. Reason: Invalid value "
                "for deadLetterTargetArn."
            )
        if parts[3] != repo.settings.region or parts[4] != repo.settings.account_id:
            raise SqsInvalidParameterValue(
                f"Value {given} for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                f"target must be in the same region and account as the source queue "
                f"({repo.settings.region}, {repo.settings.account_id})."
            )
        return parts[5]
    return given


def create_queue(
    repo: Repository,
    name: str,
    *,
    visibility_timeout: int | None = None,
    dead_letter_queue: str | None = None,
    max_receive_count: int | None = None,
) -> QueueInfo:
    """CreateQueue.  Creating a queue that exists with the same attributes answers it
    (as SQS); with other attributes: QueueAlreadyExists."""
    validate_queue_name(name)
    vt = DEFAULT_VISIBILITY_TIMEOUT if visibility_timeout is None else visibility_timeout
    validate_visibility_timeout(vt)
    if (dead_letter_queue is None) != (max_receive_count is None):
        raise SqsInvalidParameterValue(
            "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy needs both "
            "--dead-letter-queue and --max-receive-count."
        )
    dlq = None
    if dead_letter_queue is not None and max_receive_count is not None:
        validate_max_receive_count(max_receive_count)
        dlq = _dlq_name(repo, dead_letter_queue)
        validate_queue_name(dlq)
        if dlq == name:
            raise SqsInvalidParameterValue(
                f"Value {dead_letter_queue} for parameter RedrivePolicy is invalid. Reason: "
                "A queue cannot be its own dead-letter queue."
            )
    store = _store(repo)
    with store.transaction() as c:
        if dlq is not None and store.get(dlq) is None:
            raise SqsInvalidParameterValue(
                f"Value {queue_arn(repo.settings.region, repo.settings.account_id, dlq)} for "
                "parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist."
            )
        existing = store.get(name)
        if existing is not None:
            for attr, old, new in (
                ("VisibilityTimeout", existing.visibility_timeout, vt),
                ("RedrivePolicy", (existing.dead_letter_queue, existing.max_receive_count),
                 (dlq, max_receive_count)),
            ):  # fmt: skip
                if old != new:
                    raise QueueNameExists(
                        "A queue already exists with the same name and a different value for "
                        f"attribute {attr}"
                    )
            config = existing
        else:
            config = QueueConfig(name, repo.new_id(), vt, dlq, max_receive_count, now_ms())
            c.execute(
                "INSERT INTO queues (name, id, visibility_timeout, dlq, max_receive_count, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (name, config.id, vt, dlq, max_receive_count, config.created_ms),
            )
    return _info(repo, store, config)


def _info(repo: Repository, store: QueueStore, q: QueueConfig) -> QueueInfo:
    visible, in_flight = store.counts(q, now_ms())
    return QueueInfo(q, repo.settings.region, repo.settings.account_id, visible, in_flight)


def list_queues(repo: Repository) -> QueueList:
    store = _store(repo)
    return QueueList([_info(repo, store, q) for q in store.all()])


def read_body(body: str | None, file: str | None) -> str:
    """The message body: given, or read from ``file`` (``-``: standard input)."""
    if (body is None) == (file is None):
        raise SqsInvalidParameterValue("Give the message body or --file PATH (one of them).")
    if file is not None:
        import sys

        data = sys.stdin.buffer.read() if file == "-" else _read_file(file)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SqsInvalidParameterValue(
                f"The message body of {file} is not UTF-8 text: {exc}"
            ) from exc
    assert body is not None  # noqa: S101
    return body


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SqsInvalidParameterValue(f"Cannot read {path}: {exc.strerror}") from exc


def send_message(repo: Repository, name: str, body: str) -> SentMessage:
    """SendMessage: the message is durable (fsynced) before this returns."""
    validate_body(body)
    q = get_queue(repo, name)
    message_id = repo.new_id()
    md5 = _store(repo).send(q, body, now_ms(), message_id)
    notify(repo.dot)
    return SentMessage(message_id, md5)


def receive_messages(
    repo: Repository, name: str, *, max_messages: int = 1, visibility_timeout: int | None = None
) -> ReceivedMessages:
    if not 1 <= max_messages <= 10:
        raise SqsInvalidParameterValue(
            f"Value {max_messages} for parameter MaxNumberOfMessages is invalid. Reason: Must "
            "be between 1 and 10, if provided."
        )
    if visibility_timeout is not None:
        validate_visibility_timeout(visibility_timeout)
    q = get_queue(repo, name)
    return ReceivedMessages(_store(repo).receive(q, max_messages, now_ms(), visibility_timeout))


def delete_message(repo: Repository, name: str, receipt_handle: str) -> None:
    get_queue(repo, name)
    if _store(repo).delete_messages([receipt_handle]) == 0:
        raise SqsInvalidParameterValue(
            f"Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: The "
            "receipt handle has expired or the message was received again."
        )


def delete_queue(repo: Repository, name: str) -> None:
    """DeleteQueue, with its messages.  Refused while an event source mapping reads it or
    it is another queue's dead-letter queue (say which, and how to go on)."""
    q = get_queue(repo, name)
    store = _store(repo)
    users = [c for c in store.consumers(name) if _mapping_exists(c[0], c[1])]
    if users:
        listed = ", ".join(f"{uuid} ({arn.split(':', 6)[-1]})" for uuid, _root, arn in users)
        raise ResourceInUseException(
            f"Queue {name} is the event source of event source mapping(s) {listed}: delete "
            f"them first (lambdaver delete-event-source-mapping --uuid {users[0][0]})"
        )
    sources = [o.name for o in store.all() if o.dead_letter_queue == name]
    if sources:
        raise ResourceInUseException(
            f"Queue {name} is the dead-letter queue of {', '.join(sources)}: delete "
            f"{'that queue' if len(sources) == 1 else 'those queues'} first"
        )
    with store.transaction() as c:
        c.execute("DELETE FROM messages WHERE queue_id=?", (q.id,))
        c.execute("DELETE FROM queues WHERE id=?", (q.id,))
        c.execute("DELETE FROM consumers WHERE queue=?", (name,))


def _mapping_exists(uuid: str, function_root: str) -> bool:
    """Whether the mapping a consumer row names still exists (a row left by a crash
    between the two writes of a mapping's deletion does not count)."""
    from lambdaver.model.triggers import MAPPINGS
    from lambdaver.service.repository import DOT
    from lambdaver.storage.metadata import MetaStore

    meta_path = os.path.join(function_root, DOT, "meta.sqlite")
    if not os.path.exists(meta_path):
        return False
    meta = MetaStore(meta_path)
    try:
        return meta.get(MAPPINGS, uuid) is not None
    except Exception:  # noqa: BLE001 - an unreadable repository holds no mapping we can honour
        return False
    finally:
        meta.close()


def describe(repo: Repository, name: str) -> dict[str, Any]:
    """A queue's attributes (for ``triggers list`` and tests)."""
    store = _store(repo)
    q = get_queue(repo, name)
    return _info(repo, store, q).to_aws()
