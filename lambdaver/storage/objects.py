"""A content-addressed object store: sha256-named, written once, read-only.

Blobs (file contents) are stored raw, so a version can be materialised with hard links;
small structured records (trees, configurations, version records) are stored
zlib-compressed.  The name is always the sha256 of the *uncompressed* bytes.  The store
knows nothing of what it stores.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lambdaver.errors import RepositoryCorrupt
from lambdaver.storage.fileutil import fsync_dir, sync_filesystem
from lambdaver.storage.hashing import sha256, sha256_small

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath

CHUNK = 1 << 20
SMALL = 4 << 20


class ObjectStore:
    #: Up to this many new objects are made durable one by one; more, with one syncfs.
    FSYNC_EACH_MAX = 64

    def __init__(self, root: StrPath, tmp: StrPath) -> None:
        self.root = os.fspath(root)
        self.tmp = os.fspath(tmp)
        self._dirs: set[str] = set()
        self._written: list[str] = []  # new since the last sync()
        self._created: list[str] = []  # every object this process created

    def path(self, hexdigest: str) -> str:
        return os.path.join(self.root, hexdigest[:2], hexdigest[2:])

    def has(self, hexdigest: str) -> bool:
        return os.path.exists(self.path(hexdigest))

    def _fanout(self, hexdigest: str) -> str:
        prefix = hexdigest[:2]
        d = os.path.join(self.root, prefix)
        if prefix not in self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(prefix)
        return os.path.join(d, hexdigest[2:])

    def _tmp_fd(self) -> tuple[int, str]:
        name = os.path.join(self.tmp, f"obj.{os.getpid()}.{os.urandom(6).hex()}")
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), name

    def _commit(self, tmpname: str, hexdigest: str) -> None:
        final = self._fanout(hexdigest)
        if os.path.exists(final):
            os.unlink(tmpname)
        else:
            os.replace(tmpname, final)
            self._written.append(final)
            self._created.append(final)

    def _put_raw(self, data: bytes | memoryview, hexdigest: str) -> None:
        """Write an object whose name is known: a temporary file beside its final name,
        then a rename in the same directory (cheaper than across directories)."""
        final = self._fanout(hexdigest)
        if os.path.exists(final):
            return
        name = f"{final}.tmp.{os.getpid()}.{os.urandom(4).hex()}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(name, final)
            self._written.append(final)
            self._created.append(final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def checkpoint(self) -> int:
        """A mark for :meth:`discard_since`."""
        return len(self._created)

    def discard_since(self, mark: int) -> None:
        """Remove the objects this process created since ``mark``: the undo of a command
        that failed before anything referred to them (call under the repository lock)."""
        doomed = self._created[mark:]
        del self._created[mark:]
        gone = set(doomed)
        self._written = [p for p in self._written if p not in gone]
        for path in doomed:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def sync(self) -> None:
        """Make every object written since the last sync durable: a few are fsync'ed one
        by one (with their directories); many, with one ``syncfs`` of the filesystem."""
        written, self._written = self._written, []
        self._durable(written)

    def make_durable(self, hexdigests: list[str]) -> bool:
        """Sync objects that may have been written without a sync (by another process);
        False, and nothing synced, if one of them is missing."""
        paths = [self.path(h) for h in hexdigests]
        if not all(os.path.exists(p) for p in paths):
            return False
        self._durable(paths)
        return True

    def _durable(self, paths: list[str]) -> None:
        """fsync a few object files and their directories, or syncfs for many."""
        if not paths:
            return
        if len(paths) > self.FSYNC_EACH_MAX:
            sync_filesystem(self.root)
            return
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for directory in {os.path.dirname(p) for p in paths}:
            fsync_dir(directory)

    def put_bytes(self, data: bytes, *, compress: bool = False) -> str:
        """Store ``data``; return its sha256 hex.  No fsync: sync the filesystem after a batch."""
        hexdigest = sha256(data).hexdigest()
        if not self.has(hexdigest):
            if compress:
                import zlib  # imported when used: C extensions cost start-up time

                data = zlib.compress(data, 1)
            self._put_raw(data, hexdigest)
        return hexdigest

    def put_file(self, src: str, size_hint: int) -> tuple[str, int]:
        """Store the contents of file ``src``; return ``(sha256 hex, size)``.

        Small files are read whole; large ones are streamed to a temporary file while they
        are hashed, so no file is ever held whole in memory.
        """
        if size_hint <= SMALL:
            with open(src, "rb") as f:
                data = f.read()
            hexdigest = sha256(data).hexdigest()
            self._put_raw(data, hexdigest)
            return hexdigest, len(data)
        h = sha256()
        fd, name = self._tmp_fd()
        size = 0
        try:
            with open(src, "rb") as f:
                buf = bytearray(CHUNK)
                view = memoryview(buf)
                while n := f.readinto(buf):
                    h.update(view[:n])
                    chunk = view[:n]
                    while chunk:
                        chunk = chunk[os.write(fd, chunk) :]
                    size += n
            os.close(fd)
            fd = -1
            hexdigest = h.hexdigest()
            self._commit(name, hexdigest)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        return hexdigest, size

    def get_bytes(self, hexdigest: str, *, compressed: bool = False) -> bytes:
        """Read an object and verify its hash (``RepositoryCorrupt`` names it if it fails)."""
        import zlib

        try:
            with open(self.path(hexdigest), "rb") as f:
                raw = f.read()
            data = zlib.decompress(raw) if compressed else raw
        except FileNotFoundError as exc:
            raise RepositoryCorrupt(f"Object {hexdigest} is missing") from exc
        except zlib.error as exc:
            raise RepositoryCorrupt(f"Object {hexdigest} is damaged: {exc}") from exc
        if sha256_small(data).hexdigest() != hexdigest:
            raise RepositoryCorrupt(f"Object {hexdigest} fails its hash check")
        return data

    def stream_blob(self, hexdigest: str) -> Iterator[bytes]:
        """A raw blob's bytes in chunks, hashed on the way: after the last chunk, a blob
        that is missing or fails its hash raises ``RepositoryCorrupt`` naming it.  Callers
        write what they receive somewhere temporary and commit only once it is exhausted."""
        h = sha256()
        try:
            f = open(self.path(hexdigest), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise RepositoryCorrupt(f"Object {hexdigest} is missing") from exc
        with f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                yield chunk
        if h.hexdigest() != hexdigest:
            raise RepositoryCorrupt(f"Object {hexdigest} fails its hash check")

    def copy_blob(self, hexdigest: str, target: str, mode: int) -> None:
        """Write a verified copy of a blob to the new file ``target`` with exactly ``mode``."""
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as dst:
            for chunk in self.stream_blob(hexdigest):
                dst.write(chunk)
        os.chmod(target, mode)  # whatever the umask

    def verify_blob(self, hexdigest: str) -> bool:
        """Re-hash a raw blob on disk without holding it whole in memory."""
        try:
            for _chunk in self.stream_blob(hexdigest):
                pass
        except RepositoryCorrupt:
            return False
        return True
