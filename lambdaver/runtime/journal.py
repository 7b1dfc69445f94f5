"""The invocation journal: one JSON line per invocation, appended by many processes.

``directory/journal.jsonl`` holds the newest entries; when it grows past ``max_bytes`` it
is rotated to ``journal.jsonl.1`` (the previous ``.1`` becomes ``.2``, and so on; only
``keep`` old files are kept), so the journal never grows without limit.

Appending takes no lock: each entry is one line written with a single ``write`` to a
descriptor opened with ``O_APPEND``, which the kernel appends atomically with respect to
other appenders on a local file system.  Only rotation takes ``directory/journal.lock``
(exclusively; readers take it shared, so they never see a half-done rotation).  A reader
skips a line that does not parse: the torn tail of a write cut short by a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lambdaver.storage import canonical_bytes

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath

JOURNAL_NAME = "journal.jsonl"
#: The field of an entry that names the trigger that caused the invocation (an event
#: source mapping's delivery: ``sqs:QUEUE-ARN via ESM UUID``); absent for direct invokes.
TRIGGER = "Trigger"
LOCK_NAME = "journal.lock"


class Journal:
    def __init__(self, directory: StrPath, max_bytes: int = 8 << 20, keep: int = 3) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self.keep = keep
        self.path = os.path.join(self.directory, JOURNAL_NAME)

    def append(self, entry: Mapping[str, Any]) -> None:
        """Add one entry (a JSON object); rotate when the file has grown too big."""
        data = canonical_bytes(entry, ascii=True) + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            os.makedirs(self.directory, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            written = os.write(fd, data)
            if written < len(data):  # only on a full disk or a signal: finish the line
                _write_all(fd, data[written:])
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > self.max_bytes:
            self._rotate()

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first, across the rotated files."""
        with self._locked(fcntl.LOCK_SH, required=False):
            contents = [_read(path) for path in self._files()]
        for data in contents:
            for line in data.split(b"\n"):
                entry = parse_line(line)
                if entry is not None:
                    yield entry

    def _files(self) -> list[str]:
        """Existing journal files, oldest first."""
        rotated = []
        prefix = JOURNAL_NAME + "."
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        for name in names:
            suffix = name.removeprefix(prefix)
            if name.startswith(prefix) and suffix.isdigit():
                rotated.append((int(suffix), os.path.join(self.directory, name)))
        return [path for _, path in sorted(rotated, reverse=True)] + [self.path]

    def _rotate(self) -> None:
        with self._locked(fcntl.LOCK_EX, required=True):
            try:
                if os.stat(self.path).st_size <= self.max_bytes:
                    return  # another process rotated it while we waited for the lock
            except FileNotFoundError:
                return
            if self.keep == 0:
                os.unlink(self.path)
                return
            for number in range(self.keep, 0, -1):
                older = os.path.join(self.directory, f"{JOURNAL_NAME}.{number}")
                if number == self.keep:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(older)
                elif os.path.exists(older):
                    os.rename(older, os.path.join(self.directory, f"{JOURNAL_NAME}.{number + 1}"))
            os.rename(self.path, os.path.join(self.directory, f"{JOURNAL_NAME}.1"))

    @contextlib.contextmanager
    def _locked(self, operation: int, *, required: bool) -> Iterator[None]:
        """Hold ``journal.lock``.  A reader that cannot create it (a read-only or missing
        directory) reads unlocked: nobody can be rotating there."""
        try:
            lock = os.path.join(self.directory, LOCK_NAME)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            if required:
                raise
            yield
            return
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One journal line as its entry; None for a blank, torn or foreign line."""
    if not line.strip():
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None  # torn by a crash mid-write
    return entry if isinstance(entry, dict) else None
