"""Packs: many blobs in one file, for the publishes that store many new blobs at once.

Creating one file per blob costs more kernel time than copying its bytes (an inode, a
directory entry, a rename, a partial page to zero: docs/performance.md), so a publish that
stores many new blobs writes them into one pack instead, as git does on a fetch.  A pack is
two files in ``objects/pack/`` (docs/FORMAT.md, "Packs"):

- ``NAME.pack``: ``PACK_MAGIC`` and then the blobs' raw bytes, one after another;
- ``NAME.idx``: ``IDX_MAGIC``, the entry count, then one fixed-size entry per blob, sorted
  by digest: ``(sha256 digest, offset in the pack, size)``.  ``NAME`` is the sha256 (hex)
  of the index file.

The index is renamed into place last, after both files are durable: a pack without its
index is a leftover of an interrupted write that nothing refers to (``gc`` removes it).
Packs are written once and never modified, like every object.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from collections.abc import Iterator

from lambdaver.storage.fileutil import fsync_dir, tmp_name
from lambdaver.storage.hashing import sha256

PACK_MAGIC = b"LVPACK\x00\x01"
IDX_MAGIC = b"LVIDX\x00\x00\x01"
_HEAD = struct.Struct(">8sQ")  # magic, entry count
ENTRY = struct.Struct(">32sQQ")  # digest, offset, size


def _corrupt(message: str, path: str, hexdigest: str | None = None) -> Exception:
    from lambdaver.storage.errors import CorruptData

    return CorruptData(message, path=path, digest=hexdigest)


class Pack:
    """A pack's index, read once, searched by bisection (no per-lookup system call)."""

    __slots__ = ("count", "data", "idx_path", "name", "pack_path")

    def __init__(self, idx_path: str) -> None:
        self.idx_path = idx_path
        self.pack_path = idx_path[: -len(".idx")] + ".pack"
        self.name = os.path.basename(idx_path)[: -len(".idx")]
        with open(idx_path, "rb") as f:
            self.data = f.read()
        if len(self.data) < _HEAD.size:
            raise _corrupt(f"Pack index {idx_path} is truncated", idx_path)
        magic, self.count = _HEAD.unpack_from(self.data)
        if magic != IDX_MAGIC or len(self.data) != _HEAD.size + self.count * ENTRY.size:
            raise _corrupt(f"Pack index {idx_path} is damaged", idx_path)

    def find(self, digest: bytes) -> tuple[int, int] | None:
        """``(offset, size)`` of the blob with this raw digest, or None."""
        data, lo, hi, width, base = self.data, 0, self.count, ENTRY.size, _HEAD.size
        while lo < hi:
            mid = (lo + hi) // 2
            at = base + mid * width
            key = data[at : at + 32]
            if key < digest:
                lo = mid + 1
            elif key > digest:
                hi = mid
            else:
                _d, offset, size = ENTRY.unpack_from(data, at)
                return offset, size
        return None

    def entries(self) -> Iterator[tuple[str, int, int]]:
        """``(hex digest, offset, size)`` of every blob, in digest order."""
        for digest, offset, size in ENTRY.iter_unpack(memoryview(self.data)[_HEAD.size :]):
            yield digest.hex(), offset, size

    def name_ok(self) -> bool:
        return sha256(self.data).hexdigest() == self.name


def load_packs(pack_dir: str) -> list[Pack]:
    try:
        names = sorted(os.listdir(pack_dir))
    except FileNotFoundError:
        return []
    return [Pack(os.path.join(pack_dir, n)) for n in names if n.endswith(".idx")]


def read_range(path: str | int, offset: int, size: int, chunk: int) -> Iterator[bytes]:
    """The bytes ``[offset, offset + size)`` of ``path`` (or of an open descriptor, which
    is closed at the end) in chunks; a short file is ``CorruptData``."""
    fd = path if isinstance(path, int) else os.open(path, os.O_RDONLY)
    try:
        left = size
        while left:
            data = os.pread(fd, min(chunk, left), offset)
            if not data:
                raise _corrupt(f"Pack {path} is truncated", str(path))
            offset += len(data)
            left -= len(data)
            yield data
    finally:
        os.close(fd)


def read_blob(path: str, offset: int, size: int, hexdigest: str, chunk: int) -> Iterator[bytes]:
    """A packed blob's bytes in chunks, hashed on the way: after the last chunk, a blob
    that fails its hash raises ``CorruptData`` naming it and its pack.  Callers
    write what they receive somewhere temporary and keep it only once it is exhausted."""
    h = sha256()
    for data in read_range(path, offset, size, chunk):
        h.update(data)
        yield data
    if h.hexdigest() != hexdigest:
        name = os.path.basename(path)
        raise _corrupt(f"Object {hexdigest} fails its hash check (in pack {name})", path, hexdigest)


class PackWriter:
    """Appends blobs to a new pack in ``tmp/``; :meth:`finish` makes it durable and moves
    it into ``objects/pack/``.  The caller skips blobs the store already has.

    Where the filesystem allows it the pack is written with ``O_DIRECT``, from one aligned
    staging buffer straight to the disk: a first publish then does not copy its bytes into
    the page cache a second time (nor evict what is cached there), and the final ``fsync``
    has almost nothing left to write (docs/performance.md)."""

    BUFFER = 8 << 20  # a multiple of any block size O_DIRECT asks to align to
    ALIGN = 4096

    def __init__(self, pack_dir: str, tmp_dir: str) -> None:
        import mmap

        self.pack_dir = pack_dir
        self.tmp_pack = tmp_name(os.path.join(tmp_dir, "pack"))
        self.tmp_idx = tmp_name(os.path.join(tmp_dir, "idx"))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        direct = getattr(os, "O_DIRECT", 0)
        try:
            self.fd = os.open(self.tmp_pack, flags | direct, 0o444)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # This filesystem (tmpfs, say) has no direct I/O; it may have created the file.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp_pack)
            self.fd = os.open(self.tmp_pack, flags, 0o444)
        self.end = 0
        self.index: dict[bytes, tuple[int, int]] = {}
        self._map = mmap.mmap(-1, self.BUFFER)  # page-aligned, as O_DIRECT needs
        self._buf = memoryview(self._map)
        self._base = 0  # the pack offset of the buffer's first byte (aligned)
        self._fill = 0  # bytes in the buffer
        self._reader = -1  # a buffered descriptor, for discard()
        self._write(PACK_MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        size = self.BUFFER
        while view:
            n = min(size - self._fill, len(view))
            self._buf[self._fill : self._fill + n] = view[:n]
            self._fill += n
            self.end += n
            view = view[n:]
            if self._fill == size:
                self._flush(size)
                self._base += size
                self._fill = 0

    def _flush(self, length: int) -> None:
        """Write the buffer's first ``length`` bytes (a multiple of ALIGN) at its offset."""
        view = self._buf[:length]
        offset = self._base
        while view:
            try:
                n = os.pwrite(self.fd, view, offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self._drop_direct():
                    raise
                continue
            view = view[n:]
            offset += n

    def _drop_direct(self) -> bool:
        """Fall back to buffered writes (a filesystem that opened O_DIRECT but refuses
        its writes); False if the descriptor was not in direct mode."""
        import fcntl

        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        direct = getattr(os, "O_DIRECT", 0)
        if not flags & direct:
            return False
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~direct)
        return True

    def has(self, digest: bytes) -> bool:
        return digest in self.index

    def add(self, digest: bytes, data: bytes | memoryview) -> None:
        """Append a blob whose digest is known (once: a second add of it is ignored)."""
        if digest in self.index:
            return
        start = self.end
        self._write(data)
        self.index[digest] = (start, self.end - start)

    def begin(self) -> int:
        """Start a blob streamed in parts with :meth:`part`; the mark for :meth:`end_blob`."""
        return self.end

    def part(self, data: bytes | memoryview) -> None:
        self._write(data)

    def end_blob(self, start: int, digest: bytes) -> None:
        """Keep the streamed blob under ``digest``, or drop it if the pack has it already."""
        if digest in self.index:
            self.discard(start)
        else:
            self.index[digest] = (start, self.end - start)

    def discard(self, start: int) -> None:
        """Drop what was streamed since ``start``."""
        if start < self._base:
            # Partly written out already: start the buffer again at the aligned offset
            # before ``start``, with the bytes from there to ``start`` read back; what
            # follows overwrites the rest, and the final truncation cuts it off.
            aligned = start - start % self.ALIGN
            head = os.pread(self._rfd(), start - aligned, aligned)
            self._buf[: len(head)] = head
            self._base = aligned
        self._fill = start - self._base
        self.end = start

    def _rfd(self) -> int:
        if self._reader < 0:
            self._reader = os.open(self.tmp_pack, os.O_RDONLY)
        return self._reader

    def drain(self) -> None:
        """Write out everything added: the file then holds exactly the pack's bytes."""
        if self._fill:
            tail = self._fill
            padded = tail + -tail % self.ALIGN
            self._buf[tail:padded] = bytes(padded - tail)
            self._flush(padded)  # the buffer keeps the tail: draining again is harmless
        os.ftruncate(self.fd, self.end)

    def finish(self) -> tuple[str, str] | None:
        """Make the pack durable and visible; ``(idx path, pack path)``, or None (and
        nothing left behind) if no blob was added."""
        if not self.index:
            self.abort()
            return None
        self.drain()
        os.fsync(self.fd)
        self._close()
        body = [_HEAD.pack(IDX_MAGIC, len(self.index))]
        body.extend(ENTRY.pack(d, o, s) for d, (o, s) in sorted(self.index.items()))
        idx = b"".join(body)
        name = sha256(idx).hexdigest()
        fd = os.open(self.tmp_idx, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            view = memoryview(idx)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if not os.path.isdir(self.pack_dir):
            os.mkdir(self.pack_dir)
            fsync_dir(os.path.dirname(self.pack_dir))
        final = os.path.join(self.pack_dir, name)
        os.replace(self.tmp_pack, final + ".pack")
        try:
            os.replace(self.tmp_idx, final + ".idx")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(final + ".pack")
            raise
        fsync_dir(self.pack_dir)
        return final + ".idx", final + ".pack"

    def _close(self) -> None:
        for fd in (self.fd, self._reader):
            if fd >= 0:
                os.close(fd)
        self.fd = self._reader = -1
        self._buf.release()
        self._map.close()

    def abort(self) -> None:
        if self.fd >= 0:
            self._close()
        for path in (self.tmp_idx, self.tmp_pack):
            with contextlib.suppress(OSError):
                os.unlink(path)
