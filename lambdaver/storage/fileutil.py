"""The one write primitive (temporary file, fsync, rename), the one temporary-name scheme
and the sweeping of stale temporaries, and the repository lock.

Every temporary lambdaver makes is named by :func:`tmp_name` (``.NAME.tmp.PID.RANDOM``,
beside the ``NAME`` it stands in for, or in ``tmp/``) and recognised by :func:`tmp_target`,
which also knows the names older lambdavers used, so that ``gc`` sweeps their leftovers
too (docs/FORMAT.md, "Temporaries").
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # paths are plain strings (or os.PathLike): pathlib costs start-up time
    from typing import TypeAlias

    StrPath: TypeAlias = str | os.PathLike[str]


def _fsync(path: StrPath, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | flags)  # a directory opens read-only too
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: StrPath) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    _fsync(path, os.O_DIRECTORY)


def fsync_paths(paths: list[str]) -> None:
    """fsync each file or directory of ``paths``, one after another.  (Syncing them from
    several threads at once, for the filesystem's journal to commit together, saved about
    0.2 ms of a publish's 1 ms of syncs with a pool of threads kept alive, and lost with
    threads started for the call: docs/performance.md, "Serve", "PublishVersion, third
    look".)"""
    for path in paths:
        _fsync(path)


def tmp_name(target: StrPath) -> str:
    """A new temporary's path for ``target``: ``.NAME.tmp.PID.RANDOM`` in its directory.

    The one scheme for every temporary file or directory lambdaver makes; a rename turns
    it into ``target`` (or it is removed).  :func:`tmp_target` recognises it."""
    head, tail = os.path.split(os.fspath(target))
    return os.path.join(head, f".{tail}.tmp.{os.getpid()}.{os.urandom(4).hex()}")


# tmp_name's scheme, then the names of lambdavers from before it: loose objects and
# materialisations (NAME.tmp.PID.RANDOM), replaced materialisations (NAME.stale.PID.RANDOM),
# their stamps (NAME.stat.json.PID) and init's repository (.lambdaver.tmp.PID).
_TMP_NAMES = (
    r"\.(?P<a>.+)\.tmp\.\d+\.[0-9a-f]+"
    r"|(?P<b>[^.].*)\.(?:tmp|stale)\.\d+\.[0-9a-f]+"
    r"|(?P<c>[^.].*\.stat\.json)\.\d+"
    r"|(?P<d>\.lambdaver)\.tmp\.\d+"
)


def tmp_target(name: str) -> str | None:
    """The name of what the temporary ``name`` stands in for (``tmp_name``'s, or one an
    older lambdaver made), or None if ``name`` is not a temporary's."""
    import re

    m = re.fullmatch(_TMP_NAMES, name)
    if m is None:
        return None
    return m["a"] or m["b"] or m["c"] or m["d"]


def sweep_temporaries(
    directory: StrPath, sweeper: Sweeper, targets: tuple[str, ...] | None = None
) -> None:
    """Remove the stale temporaries in ``directory`` (only those standing in for one of
    ``targets``, when given): see :class:`Sweeper`."""
    for name in _listdir(directory):
        target = tmp_target(name)
        if target is not None and (targets is None or target in targets):
            sweeper.remove(os.path.join(directory, name))


def _listdir(directory: StrPath) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


class Sweeper:
    """Removes files and directories older than a grace period (``gc``), and counts what
    it removed: objects, temporaries and bytes.  With ``dry_run`` it only counts."""

    def __init__(self, grace: float, *, dry_run: bool = False, now: float | None = None) -> None:
        self.now = time.time() if now is None else now
        self.grace = grace
        self.dry_run = dry_run
        self.objects = 0
        self.temporaries = 0
        self.freed = 0

    def old(self, path: StrPath) -> bool:
        """Whether ``path`` exists and was last modified before the grace period."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        return self.now - st.st_mtime > self.grace

    def remove(self, path: StrPath, *, temporary: bool = True, count: bool = True) -> None:
        """Remove ``path`` (a file or a whole directory) if it is older than the grace
        period; counted as a temporary, or as an object, or (``count`` false) only in bytes."""
        import stat

        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not self.now - st.st_mtime > self.grace:
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        size = _tree_size(path) if is_dir else st.st_size
        if not self.dry_run:
            try:
                if is_dir:
                    _rmtree(path)
                else:
                    os.unlink(path)
            except FileNotFoundError:
                return
        self.freed += size
        if count:
            if temporary:
                self.temporaries += 1
            else:
                self.objects += 1

    def removed_objects(self, count: int, size: int) -> None:
        """Count objects removed otherwise (from a pack)."""
        self.objects += count
        self.freed += size


def _tree_size(path: StrPath) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def _rmtree(path: StrPath) -> None:
    """Remove a tree, read-only materialisations included (their directories are writable,
    so a plain rmtree works; make sure of it for ones a crash left half-made)."""
    import shutil

    with contextlib.suppress(OSError):
        for dirpath, _dirs, _files in os.walk(path):
            os.chmod(dirpath, 0o755)  # noqa: S103 - to delete it
    shutil.rmtree(path)


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
            from lambdaver.storage.errors import StorageIOError

            raise StorageIOError(
                f"Cannot lock the repository ({self.path}): {exc.strerror}",
                path=os.fspath(self.path),
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
