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


# --- reading the journal from where a reader was --------------------------------------


class JournalTail:
    """The entries appended to the invocation journal since this object was made, read
    batch by batch from a remembered (inode, byte offset): each :meth:`poll` costs a stat
    and the bytes appended since the last, never a read of the whole journal.  A rotation
    (``journal.jsonl`` renamed to ``.1``, ``.1`` to ``.2`` ...) is followed: the rest of
    the file we were reading (found by its inode among the rotated files) comes first,
    then the newer rotated files, then the new current file."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, JOURNAL_NAME)
        self.ino, self.offset = _file_id(self.path)
        # with no journal yet: the rotated files that exist now are not "appended since"
        self.old_rotated = {r_ino for r_ino, _p in self._rotated()} if self.ino is None else set()

    def _rotated(self) -> list[tuple[int, str]]:
        """Rotated files, newest (``.1``) first, with their inodes."""
        out = []
        for number in range(1, 100):
            path = f"{self.path}.{number}"
            ino, _size = _file_id(path)
            if ino is None:
                break
            out.append((ino, path))
        return out

    def poll(self) -> list[dict[str, Any]]:
        ino, size = _file_id(self.path)
        data = b""
        if self.ino is not None and ino != self.ino:  # rotated since the last poll
            rotated = self._rotated()
            position = next((i for i, (r_ino, _p) in enumerate(rotated) if r_ino == self.ino), None)
            if position is not None:
                data += _read_from(rotated[position][1], self.offset, self.ino)
                newer = rotated[:position]
            else:  # ours was rotated out entirely: every rotated file is newer
                newer = rotated
            for r_ino, path in reversed(newer):
                data += _read_from(path, 0, r_ino)
            self.ino, self.offset = ino, 0
            self.old_rotated = {r_ino for r_ino, _p in rotated}  # read, if no new file yet
        elif self.ino is None:  # no journal file yet when we started
            for r_ino, path in reversed(self._rotated()):  # files made and rotated since
                if r_ino not in self.old_rotated:
                    data += _read_from(path, 0, r_ino)
                    self.old_rotated.add(r_ino)
            if ino is not None:  # the journal's current file appeared
                self.ino, self.offset = ino, 0
        elif size < self.offset:  # cut short by hand
            self.offset = 0
        if self.ino is not None:
            chunk = _read_from(self.path, self.offset, self.ino)
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
            self.offset += len(complete)
            data += complete
        out = []
        for line in data.split(b"\n"):
            entry = parse_line(line)
            if entry is not None:
                out.append(entry)
        return out


def _file_id(path: str) -> tuple[int | None, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, 0
    return st.st_ino, st.st_size


def _read_from(path: str, offset: int, expect_ino: int | None) -> bytes:
    """The bytes of ``path`` from ``offset`` on, if it is still the file ``expect_ino``."""
    try:
        with open(path, "rb") as f:
            if expect_ino is not None and os.fstat(f.fileno()).st_ino != expect_ino:
                return b""
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""
