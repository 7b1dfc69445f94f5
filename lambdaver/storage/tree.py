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

from lambdaver.storage.hashing import sha256
from lambdaver.storage.objects import CHUNK, PACK_MIN, ObjectStore

if TYPE_CHECKING:
    from lambdaver.storage.derived import StatCache
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
        from lambdaver.storage.ignorefast import simple_spec

        lines = text.splitlines()
        spec = simple_spec(lines)  # the usual files, without pathspec's import cost
        if spec is not False:
            self._spec = spec
            return
        import pathspec  # only for an ignore file that needs it: keeps start-up fast

        self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

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
