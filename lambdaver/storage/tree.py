"""Working trees: scan a directory (with ignore rules), hash it into a canonical manifest.

A manifest is the sorted list of ``(path, mode, size, sha256)`` of every file and symlink;
its canonical JSON is what gets hashed, so equal content always has the same id.  A stat
cache (like git's index: size, mtime_ns, inode, ctime_ns, mode -> hash) lets an unchanged
file skip re-reading.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from lambdaver.storage.fileutil import read_derived, write_derived
from lambdaver.storage.hashing import sha256
from lambdaver.storage.objects import CHUNK, PACK_MIN, ObjectStore

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath

MODE_FILE = "100644"
MODE_EXEC = "100755"
MODE_LINK = "120000"
MANIFEST_FORMAT = 1

ManifestEntry = tuple[str, str, int, str]  # path, mode, size, sha256 hex


def _bad_entry(message: str, path: str, reason: str, detail: str = "") -> Exception:
    """A ``BadTreeEntry`` (imported only when there is one to raise)."""
    from lambdaver.storage.errors import BadTreeEntry

    return BadTreeEntry(message, path=path, reason=reason, detail=detail)


class Entry:
    """One file or symlink found by a scan (a plain class: dataclasses cost start-up time)."""

    __slots__ = ("ctime_ns", "ino", "key", "link", "mode", "mtime_ns", "path", "size")

    def __init__(
        self,
        path: str,
        mode: str,
        size: int,
        mtime_ns: int,
        ino: int,
        ctime_ns: int,
        link: str | None = None,
    ) -> None:
        self.path = path
        self.mode = mode
        self.size = size
        self.mtime_ns = mtime_ns
        self.ino = ino
        self.ctime_ns = ctime_ns
        self.link = link
        #: What the stat cache compares (made once: a scan of 20,000 files uses it twice each).
        self.key = (size, mtime_ns, ino, ctime_ns, mode)

    def __repr__(self) -> str:
        return f"Entry({self.path!r}, {self.mode}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces


class IgnoreRules:
    """What a scan leaves out: fixed names (not overridable) plus a gitignore-style file."""

    def __init__(
        self,
        names_anywhere: frozenset[str] = frozenset(),
        root_names: frozenset[str] = frozenset(),
        suffixes: tuple[str, ...] = (),
        ignore_file: str | None = None,
    ) -> None:
        self.names_anywhere = names_anywhere
        self.root_names = root_names
        self.suffixes = suffixes
        self.ignore_file = ignore_file
        self._spec: Any = None

    def load(self, root: StrPath) -> None:
        if not self.ignore_file:
            return
        path = os.path.join(root, self.ignore_file)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise _bad_entry(
                f"Cannot read {path}: {exc}", path, "unreadable-ignore-file", str(exc)
            ) from exc
        import pathspec  # only when there is an ignore file: keeps start-up fast

        self._spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())

    @property
    def spec(self) -> Any:
        """The compiled ignore file (a pathspec GitIgnoreSpec), or None."""
        return self._spec

    def skip(self, rel: str, name: str, is_dir: bool, at_root: bool) -> bool:
        """Whether one path is left out (``scan`` inlines the same checks)."""
        if name in self.names_anywhere or (at_root and name in self.root_names):
            return True
        if not is_dir and name.endswith(self.suffixes):
            return True
        if self._spec is not None:
            return bool(self._spec.match_file(rel + "/" if is_dir else rel))
        return False


def scan(root: StrPath, rules: IgnoreRules) -> list[Entry]:
    """Every file and symlink under ``root`` that the rules keep, sorted by path.

    Symlinks are kept as links; one that is absolute or leads outside the tree is refused,
    as are special files (sockets, FIFOs, devices) and unreadable directories.
    """
    rules.load(root)
    out: list[Entry] = []
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    # The loop runs once per file: the checks are inlined (no method call per entry),
    # and directories are recognised from the directory entry's type without a stat.
    anywhere, at_root, suffixes = rules.names_anywhere, rules.root_names, rules.suffixes
    spec = rules.spec
    s_isreg, s_islnk = stat.S_ISREG, stat.S_ISLNK
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            it = os.scandir(abs_dir)
        except OSError as exc:
            raise _bad_entry(
                f"Cannot read directory '{rel_dir or '.'}': {exc.strerror}",
                rel_dir[:-1] or ".",
                "unreadable",
                exc.strerror or "",
            ) from exc
        top = not rel_dir
        with it:
            for de in it:
                name = de.name
                if name in anywhere or (top and name in at_root):
                    continue
                rel = rel_dir + name
                try:
                    if de.is_dir(follow_symlinks=False):
                        if spec is None or not spec.match_file(rel + "/"):
                            stack.append((de.path, rel + "/"))
                        continue
                    st = de.stat(follow_symlinks=False)
                except OSError as exc:
                    raise _bad_entry(
                        f"Cannot read '{rel}': {exc.strerror}",
                        rel,
                        "unreadable",
                        exc.strerror or "",
                    ) from exc
                if name.endswith(suffixes) or (spec is not None and spec.match_file(rel)):
                    continue
                m = st.st_mode
                if s_isreg(m):
                    out.append(
                        Entry(
                            rel,
                            MODE_EXEC if m & 0o111 else MODE_FILE,
                            st.st_size,
                            st.st_mtime_ns,
                            st.st_ino,
                            st.st_ctime_ns,
                        )
                    )
                elif s_islnk(m):
                    target = os.readlink(de.path)
                    _check_link(rel, target)
                    size = len(target.encode("utf-8", "surrogateescape"))
                    out.append(
                        Entry(
                            rel, MODE_LINK, size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, target
                        )
                    )
                else:
                    raise _bad_entry(
                        f"'{rel}' is not a regular file, directory or symlink; "
                        "remove it or list it in .lambdaverignore",
                        rel,
                        "special-file",
                    )
    out.sort(key=lambda e: e.path)
    return out


def _check_link(rel: str, target: str) -> None:
    if os.path.isabs(target):
        raise _bad_entry(
            f"Symlink '{rel}' points outside the function directory (absolute target '{target}')",
            rel,
            "link-outside",
            target,
        )
    parts: list[str] = rel.split("/")[:-1]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _bad_entry(
                    f"Symlink '{rel}' points outside the function directory (target '{target}')",
                    rel,
                    "link-outside",
                    target,
                )
            parts.pop()
        else:
            parts.append(part)


class StatCache:
    """path -> (stat key, sha256), saved atomically, plus the tree hash of exactly those
    entries when they are the whole tree.

    Only files whose mtime and ctime are older than the scan's start by a safety margin
    are remembered: a file changed in the same clock tick as it was hashed (git's "racy
    clean" problem) or while the scan ran is always read again next time.  Any later
    change moves the ctime past every remembered value, so a hit is trustworthy.  When
    every file of a scan hits and the cache holds no other path, the manifest is the one
    the cache was saved from, so its tree hash (``tree``) is known without hashing.
    """

    RACY_NS = 1_000_000_000
    # marshal (fileutil.read_derived): Python's own serialisation, several times faster
    # than JSON for 20,000 entries.  This is a cache: a file this Python cannot read is
    # simply started afresh.
    FORMAT = 4  # 4: entries are tuples; 3 had lists

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.tree: str | None = None
        self.hits = 0  # lookups answered since loading
        self.missed: list[Entry] = []  # lookups that were not
        loaded = read_derived(self.path, self.FORMAT, 2)
        if loaded is not None and isinstance(loaded[0], dict):
            self.entries = loaded[0]
            self.tree = loaded[1] if isinstance(loaded[1], str) else None

    def lookup(self, e: Entry) -> str | None:
        hit = self.entries.get(e.path)
        if hit is not None and hit[:-1] == e.key:
            self.hits += 1
            return str(hit[-1])
        self.missed.append(e)
        return None

    def _nothing_to_learn(self, entries: list[Entry], scan_start_ns: int) -> bool:
        """Whether every entry was looked up and each one that missed is too fresh to be
        remembered (a file edited just before a publish, say): then what is on disk is
        still all true (an entry that no longer matches its file's stat is never used), and
        a rewrite would only drop entries.  Rewriting 20,000 entries costs tens of ms."""
        if not self.missed or self.hits + len(self.missed) != len(entries):
            return False
        cutoff = scan_start_ns - self.RACY_NS
        return not any(e.mtime_ns < cutoff and e.ctime_ns < cutoff for e in self.missed)

    def plan(
        self,
        entries: list[Entry],
        manifest: list[ManifestEntry],
        scan_start_ns: int,
        tree: str | None = None,
    ) -> tuple[dict[str, tuple[Any, ...]], str | None]:
        """What :meth:`refresh` would save: the entries old enough to trust, and ``tree``
        if that is all of them.  ``manifest`` is the scan's, entry by entry."""
        cutoff = scan_start_ns - self.RACY_NS
        kept = {
            e.path: (*e.key, m[3])
            for e, m in zip(entries, manifest, strict=True)
            if e.mtime_ns < cutoff and e.ctime_ns < cutoff
        }
        return kept, (tree if len(kept) == len(entries) else None)

    def changes(
        self, entries: list[Entry], manifest: list[ManifestEntry], scan_start_ns: int, tree: str
    ) -> bool:
        """Whether :meth:`refresh` would write anything."""
        if self.hits == len(entries) == len(self.entries) and tree == self.tree:
            return False  # every entry came from here (old enough then, so now) with its tree
        if self._nothing_to_learn(entries, scan_start_ns):
            return False
        return self.plan(entries, manifest, scan_start_ns, tree) != (self.entries, self.tree)

    def forget(self, hexdigests: set[str]) -> None:
        """Drop the entries naming any of ``hexdigests`` (blobs gc deleted), and the tree
        hash with them."""
        kept = {p: e for p, e in self.entries.items() if e[-1] not in hexdigests}
        if len(kept) != len(self.entries):
            write_derived(self.path, self.FORMAT, kept, None)
            self.entries, self.tree = kept, None

    def known_tree(self, entries: list[Entry]) -> str | None:
        """The tree hash of the scanned ``entries`` if every one of them hit and they are
        exactly the cached paths (call after looking each of them up once)."""
        if self.tree is not None and self.hits == len(entries) == len(self.entries):
            return self.tree
        return None

    def refresh(
        self,
        entries: list[Entry],
        manifest: list[ManifestEntry],
        scan_start_ns: int,
        tree: str | None = None,
    ) -> bool:
        """Save what a scan learnt, if it differs from what is on disk; True if saved.
        ``tree``: the hash of the manifest of ``entries``, kept if no entry is left out."""
        if self._nothing_to_learn(entries, scan_start_ns):
            return False
        kept, tree = self.plan(entries, manifest, scan_start_ns, tree)
        if kept == self.entries and tree == self.tree:
            return False
        write_derived(self.path, self.FORMAT, kept, tree)
        self.entries = kept
        self.tree = tree
        return True


def hash_file(path: str) -> tuple[str, int]:
    h = sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _raise_read_error(exc: OSError, rel: str) -> NoReturn:
    """Raise what a user is told when reading ``rel`` from the function directory failed
    (call from the ``except`` block that caught ``exc``)."""
    if isinstance(exc, FileNotFoundError):
        raise _bad_entry(f"'{rel}' disappeared while it was being read", rel, "vanished") from exc
    if isinstance(exc, IsADirectoryError):
        raise _bad_entry(f"'{rel}' changed while it was being read", rel, "changed") from exc
    if isinstance(exc, PermissionError):
        raise _bad_entry(
            f"Cannot read '{rel}': Permission denied", rel, "unreadable", "Permission denied"
        ) from exc
    raise exc


def build_manifest(
    root: StrPath,
    entries: list[Entry],
    cache: StatCache | None,
    store: ObjectStore | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ManifestEntry]:
    """Hash every entry (and, with ``store``, make sure its blob is stored).

    Files the stat cache knows are not read again.  The cache is written only after a
    publish has stored every blob it names (and ``gc`` drops it), so a hit also means the
    blob is in the store: no existence check per file.
    """
    manifest: list[ManifestEntry] = []
    todo: list[tuple[int, Entry]] = []  # (position in manifest, entry) to read
    lookup = cache.lookup if cache is not None else None
    for e in entries:
        cached = lookup(e) if lookup is not None else None
        if cached is None:
            todo.append((len(manifest), e))
            cached = ""
        manifest.append((e.path, e.mode, e.size, cached))
    base = os.fspath(root)
    total = sum(e.size for _, e in todo)
    if progress is not None and todo:
        progress(0, total)

    def work(e: Entry) -> tuple[str, str, int]:
        full = os.path.join(base, e.path)
        try:
            if e.link is not None:
                data = e.link.encode("utf-8", "surrogateescape")
                if store is not None:
                    return e.path, store.put_bytes(data), len(data)
                return e.path, sha256(data).hexdigest(), len(data)
            if store is not None:
                digest, size = store.put_file(full, e.size)
            else:
                digest, size = hash_file(full)
        except OSError as exc:
            _raise_read_error(exc, e.path)
        if progress is not None:
            progress(size, total)
        return e.path, digest, size

    if store is not None and len(todo) > PACK_MIN:
        # Many files to read (a first publish): their new blobs go into one pack, or
        # loose if few of them turn out to be new.
        files = [(i, e) for i, e in todo if e.link is None]
        todo = [(i, e) for i, e in todo if e.link is not None]
        done = 0  # files stored so far: an error is about the next one

        def stored(k: int, digest: str, size: int) -> None:
            nonlocal done
            i, e = files[k]
            manifest[i] = (e.path, e.mode, size, digest)
            done += 1
            if progress is not None:
                progress(size, total)

        try:
            store.put_files_packed(
                ((k, os.path.join(base, e.path)) for k, (_i, e) in enumerate(files)), stored
            )
        except OSError as exc:
            if done == len(files):
                raise  # every file was read: the pack itself could not be written
            _raise_read_error(exc, files[done][1].path)
    # Sequential on purpose: on the machines measured (docs/performance.md) a thread pool
    # made publish two to four times slower, all of it kernel time spent contending for
    # the store's directories; one reader and writer keeps close to a plain copy.
    for i, e in todo:
        path, digest, size = work(e)
        manifest[i] = (path, e.mode, size, digest)
    return manifest


def manifest_bytes(manifest: list[ManifestEntry]) -> bytes:
    """Canonical serialisation: sorted entries, compact JSON, UTF-8."""
    import json  # imported when used: a millisecond of start-up

    return json.dumps(
        {"format": MANIFEST_FORMAT, "entries": manifest},  # tuples encode as arrays
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8", "surrogateescape")


def manifest_from_bytes(data: bytes) -> list[ManifestEntry]:
    import json

    raw = json.loads(data)
    return [(p, m, int(s), h) for p, m, s, h in raw["entries"]]
