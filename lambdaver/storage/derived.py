"""Derived data: everything lambdaver can make again from the repository and the working
directory, kept only to be fast.  This module owns it all: where each file lives, its
format (Python's ``marshal`` of ``(format, field, ...)``), what it is keyed by, the
racy-clean rule, and the saves deferred until a command has succeeded.

| file (under ``.lambdaver/``) | holds | keyed by |
|---|---|---|
| ``index`` | the stat cache: path -> stat key and sha256, and the tree hash | each file's stat |
| ``cache/function`` | ``lambdaver.toml`` parsed | the file's stat |
| ``cache/settings`` | the user config file: where it is and what it says | environment, stats |
| ``cache/refs`` | single refs and counters read from SQLite | SQLite's change key |
| ``cache/versions`` | the published part of ``versions list``'s JSON | SQLite's change key |
| ``cache/latest`` | $LATEST's entry of that listing | everything it is made of |
| ``cache/zip/`` | deployment packages of ``get-function`` | the tree hash, in the name |

Every file is replaced by a rename and read as a whole; one that is missing, damaged, of
another format or of another shape reads as nothing, and is made again.  A cache never
decides a result on its own: each entry carries the key it was made from, and is used only
while that key still holds.

**The racy-clean rule** (git's): a file whose mtime or ctime is within :data:`RACY_NS` of
the moment it was looked at may change again within the same clock tick without its stat
changing, so what was read from it is not remembered.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdaver.storage.fileutil import atomic_write

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath
    from lambdaver.storage.tree import Entry, ManifestEntry

#: A file changed this recently (mtime or ctime) may change again unnoticed by its stat.
RACY_NS = 1_000_000_000

# The files, relative to ``.lambdaver/``.
INDEX = "index"
FUNCTION = "cache/function"
SETTINGS = "cache/settings"
REFS = "cache/refs"
VERSIONS_LISTING = "cache/versions"
LATEST_LISTING = "cache/latest"
PACKAGES = "cache/zip"  # get-function's deployment packages, named by tree hash
RUN = "cache/run"  # versions' code materialised for invoke (storage/materialize.py)

StatKey = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def stat_key(path: StrPath) -> StatKey | None:
    """What says a file is unchanged: size, mtime_ns, inode, ctime_ns (None if missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def environment_key() -> tuple[object, ...]:
    """Everything where the user config file is depends on: platformdirs' answer (the
    platform, the user id, ``$HOME``, every ``$XDG_*`` variable) or ``$LAMBDAVER_CONFIG``."""
    import sys

    getuid = getattr(os, "getuid", None)
    xdg = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("XDG_")))
    return (
        sys.platform,
        getuid() if getuid else None,
        os.environ.get("HOME"),
        os.environ.get("LAMBDAVER_CONFIG"),
        xdg,
    )


def module_key(file: str) -> tuple[str, StatKey | None]:
    """Which installed module answered: its file and that file's stat (an upgrade
    changes it)."""
    return (file, stat_key(file))


def is_racy(key: StatKey, now_ns: int) -> bool:
    """Whether a file with stat ``key`` changed too recently (before ``now_ns``) for what
    was read from it to be remembered."""
    return max(key[1], key[3]) >= now_ns - RACY_NS


def read(path: StrPath | None, fmt: object, fields: int) -> tuple[Any, ...] | None:
    """The fields of a derived-data file (Python's ``marshal`` of ``(fmt, field, ...)``,
    written by :func:`write`), or None when it is missing, unreadable, damaged, of another
    format or of another shape: derived data is then simply made again.

    Read whole and then decoded: ``marshal.load`` on a file object decodes through the
    file object by object, five times slower for a 20,000-entry stat cache."""
    if path is None:
        return None
    import marshal

    try:
        with open(path, "rb") as f:
            record = marshal.loads(f.read())  # noqa: S302 - our own derived data
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(record, tuple) or len(record) != fields + 1 or record[0] != fmt:
        return None
    return record[1:]


def write(path: StrPath, fmt: object, *fields: Any) -> None:
    """Replace a derived-data file (see :func:`read`) atomically."""
    import marshal

    record: Any = (fmt, *fields)
    atomic_write(path, marshal.dumps(record))


class Deferred:
    """Saves of derived data held back until the command has succeeded: a failed command
    leaves the repository exactly as it was, caches included.  Best effort: a save that
    fails (a full disk) costs speed later, never the command's result."""

    def __init__(self) -> None:
        self._writes: list[Callable[[], None]] = []

    def defer(self, write: Callable[[], None]) -> None:
        self._writes.append(write)

    def flush(self) -> None:
        for save in self._writes:
            try:
                save()
            except OSError:
                pass
        self._writes.clear()

    def drop(self) -> None:
        self._writes.clear()


# --- parsed files keyed by their stat ----------------------------------------------------


def load_parsed(cache: StrPath, fmt: object, path: StrPath, fields: int) -> tuple[Any, ...] | None:
    """What was parsed from ``path`` (``fields`` values), if ``cache`` holds it for the file
    exactly as it is now (same stat key)."""
    key = stat_key(path)
    if key is None:
        return None
    found = read(cache, fmt, fields + 1)
    if found is None or found[0] != key:
        return None
    return found[1:]


def save_parsed(cache: StrPath, fmt: object, path: StrPath, now_ns: int, *values: Any) -> None:
    """Remember what was parsed from ``path`` with its stat key, unless the file is racy
    (changed within :data:`RACY_NS` of ``now_ns``) or the cache already says the same."""
    key = stat_key(path)
    if key is None or is_racy(key, now_ns):
        return
    if read(cache, fmt, len(values) + 1) == (key, *values):
        return
    write(cache, fmt, key, *values)


# --- the stat cache ---------------------------------------------------------------------


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

    RACY_NS = RACY_NS  # a class attribute, so that tests can shorten it
    # marshal (see read()): Python's own serialisation, several times faster
    # than JSON for 20,000 entries.  This is a cache: a file this Python cannot read is
    # simply started afresh.
    FORMAT = 4  # 4: entries are tuples; 3 had lists

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.tree: str | None = None
        self.hits = 0  # lookups answered since loading
        self.missed: list[Entry] = []  # lookups that were not
        loaded = read(self.path, self.FORMAT, 2)
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
            write(self.path, self.FORMAT, kept, None)
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
        write(self.path, self.FORMAT, kept, tree)
        self.entries = kept
        self.tree = tree
        return True


# --- the refs memo -----------------------------------------------------------------------

ChangeKey = tuple[int, int, int]
MISS = object()


class RefsMemo:
    """``cache/refs``: single refs and counters read from the metadata database, with the
    change key (storage/metadata.py, ``MetaStore.change_key``) of the state they were read
    in.  Served only while the database is in that same state."""

    FORMAT = 1

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self._values: dict[tuple[str, str], object] | None = None  # loaded on first use
        self._key: ChangeKey | None = None
        self._new = False  # something to save

    def lookup(self, k: tuple[str, str], current: Callable[[], ChangeKey | None]) -> object:
        """The remembered value of ``k``, or :data:`MISS`; ``current`` gives the
        database's change key now (asked once, when the memo is loaded)."""
        if self._values is None:
            self._values = {}
            loaded = read(self.path, self.FORMAT, 2)
            if loaded is not None and isinstance(loaded[1], dict) and loaded[0] == current():
                self._key, self._values = loaded
        return self._values.get(k, MISS)

    def remember(self, key: ChangeKey, k: tuple[str, str], value: object) -> None:
        """``value`` was read for ``k`` in the state whose change key is ``key``."""
        if self._values is None or key != self._key:  # the database changed since
            self._values = {}
            self._key = key
        self._values[k] = value
        self._new = True

    def save(self) -> None:
        """Write the memo if reads added to it."""
        if self._new:
            write(self.path, self.FORMAT, self._key, self._values)
            self._new = False
