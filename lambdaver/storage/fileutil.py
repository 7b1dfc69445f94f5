"""The one write primitive (temporary file, fsync, rename) and the repository lock."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lambdaver.errors import RepositoryIOError

if TYPE_CHECKING:  # paths are plain strings (or os.PathLike): pathlib costs start-up time
    from typing import TypeAlias

    StrPath: TypeAlias = str | os.PathLike[str]


def fsync_dir(path: StrPath) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(target: StrPath) -> str:
    head, tail = os.path.split(os.fspath(target))
    return os.path.join(head, f".{tail}.tmp.{os.getpid()}.{os.urandom(4).hex()}")


def atomic_write(target: StrPath, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``target`` so that a crash leaves the old or the new file, never half.

    Temporary file in the same directory, fsync, rename over the target, fsync the directory.
    """
    tmp = tmp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(os.path.dirname(os.fspath(target)) or ".")


_syncfs: Callable[[int], int] | None = None


def sync_filesystem(path: StrPath) -> None:
    """Flush everything written on the filesystem holding ``path`` (one call for many files).

    Uses Linux's ``syncfs(2)`` when it is there, else ``os.sync()``.
    """
    global _syncfs
    if _syncfs is None and sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _syncfs = libc.syncfs
        except (OSError, AttributeError):
            _syncfs = None
    if _syncfs is not None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


class RepositoryLock:
    """An exclusive ``flock`` on ``.lambdaver/lock``, held for every change.

    ``flock`` is released by the kernel when the holder dies, so a ``kill -9`` never leaves
    a stale lock behind.  Waiting is unbounded but announced on stderr after a second.
    """

    def __init__(
        self,
        path: StrPath,
        on_wait: Callable[[], None] | None = None,
        on_acquire: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.on_wait = on_wait
        self.on_acquire = on_acquire
        self._fd: int | None = None
        self._depth = 0
        self.taken = False  # acquire() succeeded at least once (this process meant to write)

    def acquire(self) -> None:
        import fcntl  # imported when used: read verbs seldom lock

        if self._depth:
            self._depth += 1
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RepositoryIOError(
                f"Cannot lock the repository ({self.path}): {exc.strerror}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                self.on_wait()
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                time.sleep(0.01)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
            else:
                fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        self._depth = 1
        self.taken = True
        if self.on_acquire is not None:
            self.on_acquire()

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now (True), else do nothing (False)."""
        import fcntl

        if self._depth:
            self._depth += 1
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        self._depth = 1
        return True

    def release(self) -> None:
        import fcntl

        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
