"""A content-addressed object store: sha256-named, written once, read-only.

Blobs (file contents) are stored raw, so a version can be materialised with hard links;
small structured records (trees, configurations, version records) are stored
zlib-compressed.  The name is always the sha256 of the *uncompressed* bytes.  The store
knows nothing of what it stores.

The layout (fan-out directories, packs, ``tmp/``) is the store's alone: callers list its
objects and packs, and have its stale temporaries swept, through its methods.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from lambdaver.storage.fileutil import fsync_paths, sync_filesystem, tmp_name
from lambdaver.storage.hashing import sha256, sha256_small

if TYPE_CHECKING:
    from lambdaver.storage.errors import CorruptData
    from lambdaver.storage.fileutil import StrPath, Sweeper
    from lambdaver.storage.pack import Pack

CHUNK = 1 << 20
SMALL = 4 << 20
#: Files smaller than this (by their stat size) are read into a buffer of this size.
SMALL_FILE = 64 << 10
#: A command that stores more new blobs than this at once writes them into one pack.
PACK_MIN = 64


def _read_into(fd: int, view: memoryview) -> int:
    """Fill ``view`` from ``fd``; the number of bytes read (less than its length at EOF)."""
    got = 0
    size = len(view)
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            break
        got += n
    return got


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(CHUNK):
            yield chunk


def _in(packs: list[Pack], digest: bytes) -> bool:
    return any(p.find(digest) is not None for p in packs)


def _corrupt(message: str, hexdigest: str) -> CorruptData:
    from lambdaver.storage.errors import CorruptData

    return CorruptData(message, digest=hexdigest)


_HEX = frozenset("0123456789abcdef")


def _is_hex(name: str, length: int) -> bool:
    return len(name) == length and _HEX.issuperset(name)


def _children(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


class Garbage:
    """What :meth:`ObjectStore.garbage` found that ``gc`` may delete: loose objects
    ``(digest, path)``, and per pack the digests of its blobs nothing needs."""

    __slots__ = ("loose", "packed")

    def __init__(self) -> None:
        self.loose: list[tuple[str, str]] = []
        self.packed: list[tuple[Pack, set[str]]] = []

    def __bool__(self) -> bool:
        return bool(self.loose or self.packed)

    def digests(self) -> set[str]:
        out = {digest for digest, _path in self.loose}
        for _pack, dead in self.packed:
            out.update(dead)
        return out


class ObjectStore:
    #: Up to this many new objects are made durable one by one; more, with one syncfs.
    FSYNC_EACH_MAX = 64

    def __init__(
        self, root: StrPath, tmp: StrPath, before_pack: Callable[[], None] | None = None
    ) -> None:
        self.root = os.fspath(root)
        self._before_pack = before_pack
        self.tmp = os.fspath(tmp)
        self._dirs: set[str] = set()
        self._written: list[str] = []  # new since the last sync()
        self._new_dirs = False  # a fan-out directory was made since the last sync()
        self._created: list[str] = []  # every object this process created
        self._view: memoryview | None = None
        self._packs: list[Pack] | None = None

    def path(self, hexdigest: str) -> str:
        return os.path.join(self.root, hexdigest[:2], hexdigest[2:])

    def has(self, hexdigest: str) -> bool:
        return os.path.exists(self.path(hexdigest)) or self._packed(hexdigest) is not None

    # --- packs (lambdaver/storage/pack.py) ----------------------------------------------

    @property
    def pack_dir(self) -> str:
        return os.path.join(self.root, "pack")

    def packs(self) -> list[Pack]:
        """The packs in the store (read once per store, and again after it wrote one)."""
        if self._packs is None:
            from lambdaver.storage.pack import load_packs

            self._packs = load_packs(self.pack_dir)
        return self._packs

    def _packed(self, hexdigest: str) -> tuple[Pack, int, int] | None:
        """``(pack, offset, size)`` of a packed object, or None."""
        if self._packs is None and not os.path.isdir(self.pack_dir):
            return None
        digest = bytes.fromhex(hexdigest)
        for pack in self.packs():
            found = pack.find(digest)
            if found is not None:
                return pack, found[0], found[1]
        return None

    def _unpack(self, path: str, entries: Iterable[tuple[str, int, int]]) -> None:
        """Store blobs of the pack file ``path`` as loose objects, re-hashed on the way
        (``CorruptData`` if one fails); the caller syncs them."""
        from lambdaver.storage.pack import read_blob

        for hexdigest, offset, size in entries:
            if os.path.exists(self.path(hexdigest)):
                continue
            fd, name = self._tmp_fd()
            try:
                try:
                    for chunk in read_blob(path, offset, size, hexdigest, CHUNK):
                        _write_all(fd, chunk)
                finally:
                    os.close(fd)
                self._land(name, self._fanout(hexdigest))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name)
                raise

    def drop_from_pack(self, pack: Pack, dead: set[str]) -> None:
        """Remove the blobs ``dead`` from ``pack`` (gc, under the lock): the others are
        copied, re-hashed, into a new pack that is made durable and visible first; then the
        old pack's index goes, which makes it invisible, and then the pack itself."""
        from lambdaver.storage.pack import PackWriter, read_blob

        live = [e for e in pack.entries() if e[0] not in dead]
        if len(live) <= PACK_MIN:  # a handful: loose objects, durable before the pack goes
            self._unpack(pack.pack_path, live)
            self.sync()
        else:
            writer = PackWriter(self.pack_dir, self.tmp)
            try:
                for digest, offset, size in live:
                    start = writer.begin()
                    for chunk in read_blob(pack.pack_path, offset, size, digest, CHUNK):
                        writer.part(chunk)
                    writer.end_blob(start, bytes.fromhex(digest))
                writer.finish()
            except BaseException:
                writer.abort()
                raise
        os.unlink(pack.idx_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pack.pack_path)
        self._packs = None

    def loose_names(self) -> set[str]:
        """The hex names of every loose object: one listing per fan-out directory, cheaper
        than a ``stat`` per blob when thousands of blobs are checked."""
        names: set[str] = set()
        try:
            fans = os.listdir(self.root)
        except FileNotFoundError:
            return names
        for fan in fans:
            if len(fan) != 2:
                continue
            try:
                names.update(fan + n for n in os.listdir(os.path.join(self.root, fan)))
            except NotADirectoryError:
                continue
        return names

    def put_files_packed(
        self, sources: Iterable[tuple[int, str]], on_stored: Callable[[int, str, int], None]
    ) -> None:
        """Store many files at once, new blobs into one pack: ``sources`` yields
        ``(key, path)``; ``on_stored(key, hexdigest, size)`` is called for each.  The pack
        is durable and visible when this returns; on an error nothing of it is left."""
        from lambdaver.storage.pack import PackWriter

        if self._before_pack is not None:
            self._before_pack()
        have = self.loose_names()
        packs = self.packs()
        writer = PackWriter(self.pack_dir, self.tmp)
        view = self._buffer()
        try:
            for key, src in sources:
                fd = os.open(src, os.O_RDONLY)
                try:
                    n = _read_into(fd, view)
                    if n < len(view):
                        data = view[:n]
                        raw = sha256(data).digest()
                        hexdigest = raw.hex()
                        if not (writer.has(raw) or hexdigest in have or _in(packs, raw)):
                            writer.add(raw, data)
                        on_stored(key, hexdigest, n)
                        continue
                    start = writer.begin()
                    h = sha256()
                    size = 0
                    while n:
                        chunk = view[:n]
                        h.update(chunk)
                        writer.part(chunk)
                        size += n
                        n = _read_into(fd, view)
                finally:
                    os.close(fd)
                raw = h.digest()
                hexdigest = raw.hex()
                if hexdigest in have or _in(packs, raw):
                    writer.discard(start)
                else:
                    writer.end_blob(start, raw)
                on_stored(key, hexdigest, size)
            writer.drain()
            if len(writer.index) <= PACK_MIN:
                # Few of them were new after all (the stat cache was lost, say): loose
                # objects, rather than a pack for a handful of blobs.
                self._unpack(
                    writer.tmp_pack, ((d.hex(), o, n) for d, (o, n) in writer.index.items())
                )
                writer.abort()
                return
            made = writer.finish()
        except BaseException:
            writer.abort()
            raise
        if made is not None:
            self._created.extend(made)  # the index first: undone, the pack is invisible
            self._packs = None

    def _fanout(self, hexdigest: str) -> str:
        prefix = hexdigest[:2]
        d = os.path.join(self.root, prefix)
        if prefix not in self._dirs:
            try:
                os.mkdir(d)
                self._new_dirs = True  # objects/ itself has a new entry to sync
            except FileExistsError:
                pass
            except FileNotFoundError:  # objects/ itself is missing: make it (and sync it)
                os.makedirs(d, exist_ok=True)
                self._new_dirs = True
            self._dirs.add(prefix)
        return os.path.join(d, hexdigest[2:])

    def new_tmp_dir(self, kind: str) -> str:
        """A new, empty, private directory in ``tmp/`` for a command's staged files
        (``kind`` names it); the caller removes it, or ``gc`` once it is stale."""
        os.makedirs(self.tmp, exist_ok=True)
        path = tmp_name(os.path.join(self.tmp, kind))
        os.mkdir(path, 0o700)
        return path

    def _tmp_fd(self) -> tuple[int, str]:
        name = tmp_name(os.path.join(self.tmp, "obj"))
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), name

    def _commit(self, tmpname: str, hexdigest: str) -> None:
        final = self._fanout(hexdigest)
        if os.path.exists(final) or self._packed(hexdigest) is not None:
            os.unlink(tmpname)
        else:
            self._land(tmpname, final)

    def _put_raw(self, data: bytes | memoryview, hexdigest: str) -> None:
        """Write an object whose name is known: a temporary file beside its final name,
        then a rename in the same directory (cheaper than across directories)."""
        final = self._fanout(hexdigest)
        if os.path.exists(final) or self._packed(hexdigest) is not None:
            return
        name = tmp_name(final)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            self._land(name, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def _land(self, tmpname: str, final: str) -> None:
        """Rename a written temporary to its object name; it is synced by :meth:`sync`."""
        os.replace(tmpname, final)
        self._written.append(final)
        self._created.append(final)

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
        paths = []
        for h in hexdigests:
            path = self.path(h)
            if os.path.exists(path):
                paths.append(path)
            elif self._packed(h) is None:  # packs are durable before they are visible
                return False
        self._durable(paths)
        return True

    def _durable(self, paths: list[str]) -> None:
        """fsync a few object files and their directories, or syncfs for many."""
        if not paths:
            return
        if len(paths) > self.FSYNC_EACH_MAX:
            sync_filesystem(self.root)
            self._new_dirs = False
            return
        dirs = {os.path.dirname(p) for p in paths}
        if self._new_dirs:
            dirs.add(self.root)
            self._new_dirs = False
        fsync_paths([*paths, *sorted(dirs)])

    def put_bytes(self, data: bytes, *, compress: bool = False) -> str:
        """Store ``data``; return its sha256 hex.  No fsync: sync the filesystem after a batch."""
        hexdigest = sha256(data).hexdigest()
        if not self.has(hexdigest):
            if compress:
                import zlib  # imported when used: C extensions cost start-up time

                data = zlib.compress(data, 1)
            self._put_raw(data, hexdigest)
        return hexdigest

    def _buffer(self) -> memoryview:
        """One read buffer for the whole process.  Reading each file into a new ``bytes``
        costs a fresh allocation per file, and on the machines measured (a virtual
        machine) touching fresh memory made reading a 500 MiB tree six times slower than
        reading it into a buffer that is reused (docs/performance.md)."""
        if self._view is None:
            self._view = memoryview(bytearray(SMALL))
        return self._view

    def put_file(self, src: str, size_hint: int) -> tuple[str, int]:
        """Store the contents of file ``src``; return ``(sha256 hex, size)``.

        Files that fit the read buffer are read into it whole; larger ones are streamed to
        a temporary file while they are hashed, so no file is ever held whole in memory.
        ``size_hint`` is not trusted: the file is read to its end, whatever its size.
        """
        src_fd = os.open(src, os.O_RDONLY)
        try:
            if size_hint < SMALL_FILE:
                # A small file (most of a function's) is read into a buffer of its own
                # size: the process's big buffer costs a fresh 4 MiB to a process that
                # stores only a few small files (a publish through lambdaver serve).
                small = memoryview(bytearray(SMALL_FILE))
                n = _read_into(src_fd, small)
                if n < SMALL_FILE:
                    data = small[:n]
                    hexdigest = sha256(data).hexdigest()
                    self._put_raw(data, hexdigest)
                    return hexdigest, n
                os.lseek(src_fd, 0, os.SEEK_SET)  # it grew: read it as a big one
            view = self._buffer()
            n = _read_into(src_fd, view)
            if n < len(view):
                data = view[:n]
                hexdigest = sha256(data).hexdigest()
                self._put_raw(data, hexdigest)
                return hexdigest, n
            return self._put_stream(src_fd, view)
        finally:
            os.close(src_fd)

    def _put_stream(self, src_fd: int, view: memoryview) -> tuple[str, int]:
        """Store a file larger than the buffer, whose first ``len(view)`` bytes are in it."""
        h = sha256()
        fd, name = self._tmp_fd()
        size = 0
        try:
            n = len(view)
            while n:
                chunk = view[:n]
                h.update(chunk)
                _write_all(fd, chunk)
                size += n
                n = _read_into(src_fd, view)
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

    def _read_packed(self, hexdigest: str) -> Iterator[bytes] | None:
        """A packed blob's bytes, or None if no pack has it.  The pack is opened here: if
        gc replaced it since its index was read (readers take no lock), the packs are read
        again, once."""
        from lambdaver.storage.pack import read_range

        for _attempt in range(2):
            found = self._packed(hexdigest)
            if found is None:
                return None
            pack, offset, size = found
            try:
                fd = os.open(pack.pack_path, os.O_RDONLY)
            except FileNotFoundError:
                self._packs = None
                continue
            return read_range(fd, offset, size, CHUNK)
        return None

    def get_bytes(self, hexdigest: str, *, compressed: bool = False) -> bytes:
        """Read an object and verify its hash (``CorruptData`` names it if it fails)."""
        import zlib

        try:
            try:
                with open(self.path(hexdigest), "rb") as f:
                    raw = f.read()
            except FileNotFoundError as exc:
                parts = self._read_packed(hexdigest)
                if parts is None:
                    raise _corrupt(f"Object {hexdigest} is missing", hexdigest) from exc
                raw = b"".join(parts)
            data = zlib.decompress(raw) if compressed else raw
        except zlib.error as exc:
            raise _corrupt(f"Object {hexdigest} is damaged: {exc}", hexdigest) from exc
        if sha256_small(data).hexdigest() != hexdigest:
            raise _corrupt(f"Object {hexdigest} fails its hash check", hexdigest)
        return data

    def stream_blob(self, hexdigest: str) -> Iterator[bytes]:
        """A raw blob's bytes in chunks, hashed on the way: after the last chunk, a blob
        that is missing or fails its hash raises ``CorruptData`` naming it.  Callers
        write what they receive somewhere temporary and commit only once it is exhausted."""
        h = sha256()
        try:
            f = open(self.path(hexdigest), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            parts = self._read_packed(hexdigest)
            if parts is None:
                raise _corrupt(f"Object {hexdigest} is missing", hexdigest) from exc
        else:
            parts = _chunks(f)
        for chunk in parts:
            h.update(chunk)
            yield chunk
        if h.hexdigest() != hexdigest:
            raise _corrupt(f"Object {hexdigest} fails its hash check", hexdigest)

    def copy_blob(self, hexdigest: str, target: str, mode: int) -> None:
        """Write a verified copy of a blob to the new file ``target`` with exactly ``mode``."""
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as dst:
            for chunk in self.stream_blob(hexdigest):
                dst.write(chunk)
        os.chmod(target, mode)  # whatever the umask

    def verify_blob(self, hexdigest: str) -> bool:
        """Re-hash a raw blob on disk without holding it whole in memory."""
        from lambdaver.storage.errors import CorruptData

        try:
            for _chunk in self.stream_blob(hexdigest):
                pass
        except CorruptData:
            return False
        return True

    def verify_compressed(self, hexdigest: str) -> bool:
        """Decompress and re-hash a compressed object (a tree or a record)."""
        from lambdaver.storage.errors import CorruptData

        try:
            self.get_bytes(hexdigest, compressed=True)
        except (OSError, CorruptData):
            return False
        return True

    def verify_packed(self, pack: Pack, hexdigest: str, offset: int, size: int) -> bool:
        """Re-hash one blob of ``pack`` (an entry of :meth:`Pack.entries`)."""
        from lambdaver.storage.errors import CorruptData
        from lambdaver.storage.pack import read_blob

        try:
            for _chunk in read_blob(pack.pack_path, offset, size, hexdigest, CHUNK):
                pass
        except (OSError, CorruptData):
            return False
        return True

    # --- listing and collecting (gc, fsck) ------------------------------------------------

    def loose_objects(self) -> Iterator[tuple[str | None, str]]:
        """``(digest, path)`` of every file among the loose objects, in name order; the
        digest is None for a stray file that is no object.  Packs and the temporaries of
        interrupted writes are left out."""
        from lambdaver.storage.fileutil import tmp_target

        for fan in _children(self.root):
            fan_path = os.path.join(self.root, fan)
            if fan == "pack" and os.path.isdir(fan_path):
                continue  # packs are listed by pack_files()
            if not os.path.isdir(fan_path):
                yield None, fan_path
                continue
            for name in _children(fan_path):
                if tmp_target(name) is not None:
                    continue
                path = os.path.join(fan_path, name)
                ok = _is_hex(fan, 2) and _is_hex(name, 62) and os.path.isfile(path)
                yield (fan + name if ok else None), path

    def pack_files(self) -> Iterator[tuple[str, bool]]:
        """``(path, is_index)`` of every file in the pack directory but the packs
        themselves, in name order: a pack's index (open it with :class:`Pack`), or a stray
        file that belongs to no pack."""
        for name in _children(self.pack_dir):
            if name.endswith(".pack"):
                continue
            ok = name.endswith(".idx") and _is_hex(name[: -len(".idx")], 64)
            yield os.path.join(self.pack_dir, name), ok

    def garbage(self, keep: set[str], sweeper: Sweeper) -> Garbage:
        """The objects not in ``keep`` that are older than the sweeper's grace period:
        loose ones, and packed ones in packs whose index is that old."""
        found = Garbage()
        for digest, path in self.loose_objects():
            if digest is not None and digest not in keep and sweeper.old(path):
                found.loose.append((digest, path))
        for pack in self.packs():
            if not sweeper.old(pack.idx_path):
                continue
            dead = {digest for digest, _off, _size in pack.entries() if digest not in keep}
            if dead:
                found.packed.append((pack, dead))
        return found

    def collect(self, garbage: Garbage, sweeper: Sweeper) -> None:
        """Delete what :meth:`garbage` found (under the repository lock): loose objects
        are unlinked, packs rewritten without their dead blobs (:meth:`drop_from_pack`)."""
        for _digest, path in garbage.loose:
            sweeper.remove(path, temporary=False)
        for pack, dead in garbage.packed:
            sweeper.removed_objects(
                len(dead), sum(size for digest, _off, size in pack.entries() if digest in dead)
            )
            if not sweeper.dry_run:
                self.drop_from_pack(pack, dead)

    def sweep_temporaries(self, sweeper: Sweeper) -> None:
        """Remove the stale leftovers of interrupted writes: temporaries beside loose
        objects, everything in ``tmp/``, and packs whose index never arrived."""
        from lambdaver.storage.fileutil import tmp_target

        for fan in _children(self.root):
            fan_path = os.path.join(self.root, fan)
            if fan == "pack" or not _is_hex(fan, 2):
                continue
            for name in _children(fan_path):
                if tmp_target(name) is not None:
                    sweeper.remove(os.path.join(fan_path, name))
        names = _children(self.pack_dir)
        indexed = {n for n in names if n.endswith(".idx")}
        for name in names:
            stem, suffix = os.path.splitext(name)
            if suffix != ".idx" and stem + ".idx" not in indexed:
                sweeper.remove(os.path.join(self.pack_dir, name))
        for name in _children(self.tmp):
            sweeper.remove(os.path.join(self.tmp, name))
