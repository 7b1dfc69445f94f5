"""The queue of accepted Event invocations: ``.lambdaver/events/``.

``invoke --invocation-type Event`` writes one file per event, ``NNN-REQUESTID.event``
(``NNN``: the time it was accepted, in nanoseconds, so names sort in acceptance order),
with :func:`~lambdaver.storage.fileutil.atomic_write` (temporary file, fsync, rename,
fsync of the directory) *before* it answers 202: an accepted event survives the command
being interrupted, killed, or the machine losing power.  A background worker
(service/event_worker.py) runs it and removes it.

Whoever runs an event holds an exclusive ``flock`` on its file for the whole run (its
retries included): a worker takes an event only if it gets that lock at once and the
file is still the one at its name afterwards (it was not run and removed meanwhile).
A lock dies with its process, so an event whose worker was killed, or that no worker
was ever started for, is free for the next worker (an *orphan*).  How many attempts an
event has had is kept beside it in ``NNN-REQUESTID.attempts`` (rewritten atomically
after each failed attempt), so an orphan resumes where it stopped.  Standard error of the
workers (lambdaver's own failures only) is appended to ``worker.log`` here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from typing import Any

from lambdaver.storage.fileutil import atomic_write, fsync_dir

#: The queue's directory, under ``.lambdaver/``.
EVENTS_DIR = "events"
EVENT_SUFFIX = ".event"
ATTEMPTS_SUFFIX = ".attempts"
WORKER_LOG = "worker.log"
#: The record's format: a worker refuses (leaves queued) a record of a newer format.
RECORD_FORMAT = 1


def events_dir(dot: str) -> str:
    """The queue's directory of the repository whose ``.lambdaver/`` is ``dot``."""
    return os.path.join(dot, EVENTS_DIR)


def enqueue(dot: str, record: dict[str, Any], accepted_ns: int) -> str:
    """Write ``record`` durably into the queue; its file's name."""
    directory = events_dir(dot)
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)
        fsync_dir(dot)
    name = f"{accepted_ns:020d}-{record['RequestId']}{EVENT_SUFFIX}"
    body = {"Format": RECORD_FORMAT, **record}
    atomic_write(os.path.join(directory, name), json.dumps(body, sort_keys=True).encode() + b"\n")
    return name


def pending(dot: str) -> list[str]:
    """The names of the queued events, oldest first (those being run included)."""
    try:
        names = os.listdir(events_dir(dot))
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(EVENT_SUFFIX) and not n.startswith("."))


class Claim:
    """One event taken by this process: its record, and its lock until :meth:`release`."""

    def __init__(self, directory: str, name: str, fd: int, record: dict[str, Any]) -> None:
        self.directory = directory
        self.name = name
        self.fd = fd
        self.record = record
        stem = name.removesuffix(EVENT_SUFFIX)
        self.path = os.path.join(directory, name)
        self.attempts_path = os.path.join(directory, stem + ATTEMPTS_SUFFIX)

    def attempts_done(self) -> int:
        """How many attempts earlier workers made (0 for a new event)."""
        try:
            with open(self.attempts_path, "rb") as f:
                return int(f.read().strip() or b"0")
        except (FileNotFoundError, ValueError):
            return 0

    def record_attempt(self, attempt: int) -> None:
        """Attempt number ``attempt`` is over (and failed): a resumed event goes on after it."""
        atomic_write(self.attempts_path, f"{attempt}\n".encode())

    def finish(self) -> None:
        """The event is done with: out of the queue (then its attempts file)."""
        for path in (self.path, self.attempts_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        fsync_dir(self.directory)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


def claim(dot: str, name: str) -> Claim | None:
    """Take the event ``name`` if nobody runs it and it is still queued; else None.
    A record that cannot be read is set aside as ``NAME.bad`` (it would fail every time)."""
    directory = events_dir(dot)
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # run and removed between our open and our lock
            os.close(fd)
            return None
        data = b""
        while chunk := os.read(fd, 1 << 16):
            data += chunk
        record = _parse_record(data)
        if record is None:
            os.replace(path, path + ".bad")
            os.close(fd)
            return None
        if int(record.get("Format", 0)) > RECORD_FORMAT:
            os.close(fd)  # a newer lambdaver's: it runs it
            return None
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return Claim(directory, name, fd, record)


def _parse_record(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "RequestId" in record else None


def sweep_attempts(dot: str) -> None:
    """Remove attempts files whose event is gone (a worker stopped between the two
    unlinks of :meth:`Claim.finish`)."""
    directory = events_dir(dot)
    try:
        names = set(os.listdir(directory))
    except FileNotFoundError:
        return
    for n in names:
        if n.endswith(ATTEMPTS_SUFFIX):
            event = n.removesuffix(ATTEMPTS_SUFFIX) + EVENT_SUFFIX
            if event not in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, n))
