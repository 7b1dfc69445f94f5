"""The Repository facade: finds ``.lambdaver/``, checks its format, and hands out the
object store, the metadata store, the lock, the function file and the $LATEST scan."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    IncompleteOperation,
    RepositoryCorrupt,
    RepositoryIOError,
    RepositoryNotFound,
    UnsupportedRepositoryFormat,
)
from lambdaver.model.names import Arns
from lambdaver.model.timefmt import aws_time
from lambdaver.service.function_file import (
    FUNCTION_FILE,
    FunctionFile,
    load_function_file,
    save_function_cache,
)
from lambdaver.service.settings import Settings, SettingsMemo
from lambdaver.storage import derived
from lambdaver.storage.derived import Deferred, StatCache
from lambdaver.storage.fileutil import RepositoryLock, atomic_write, fsync_dir, tmp_name
from lambdaver.storage.hashing import sha256
from lambdaver.storage.metadata import MetaStore
from lambdaver.storage.objects import ObjectStore
from lambdaver.storage.tree import (
    Entry,
    IgnoreRules,
    ManifestEntry,
    build_manifest,
    manifest_bytes,
    scan,
)
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath

DOT = ".lambdaver"
IGNORE_FILE = ".lambdaverignore"
FORMAT_VERSION = 2
#: The oldest format that can hold packs (docs/FORMAT.md, "History of the format").
PACKS_SINCE = 2
FORMAT_NAME = "lambdaver-repository"
#: An interrupted checkout or import, completed by the next command that changes the
#: repository (service/pending.py).
PENDING = "pending-apply.json"

# Namespaces of the metadata store (storage/metadata.py): version refs, alias refs (with
# their logs) and the counter that numbers versions.
VERSIONS = "versions"
ALIASES = "aliases"
VERSION_COUNTER = "version"


def ignore_rules() -> IgnoreRules:
    """Always ignored, whatever .lambdaverignore says (README, "Layout of a function")."""
    return IgnoreRules(
        names_anywhere=frozenset({DOT, ".git", "__pycache__"}),
        root_names=frozenset({FUNCTION_FILE, IGNORE_FILE}),
        suffixes=(".pyc",),
        ignore_file=IGNORE_FILE,
    )


_FORMAT_PROBE = re.compile(
    rb'\A\{\s*"format":\s*"lambdaver-repository",\s*"format_version":\s*(\d+),'
    rb'\s*"created":\s*"[^"\\]*"\s*\}\s*\Z'
)


def _probe_format_version(data: bytes) -> int | None:
    """The format version of a ``config`` file exactly as ``create`` writes it (a JSON
    object of three known keys), read with a regular expression: importing the json module
    costs a millisecond of start-up.  Anything else (None) is left to the json module."""
    m = _FORMAT_PROBE.match(data)
    return int(m.group(1)) if m else None


def derived_path(root: str, name: str) -> str:
    """A file of derived data (``name``: one of ``storage.derived``'s names) of the
    repository at ``root``."""
    return os.path.join(root, DOT, name)


def find_root(start: StrPath) -> str | None:
    """The nearest directory at or above ``start`` that holds ``.lambdaver/``, or None."""
    d = os.path.abspath(start)
    while True:
        if os.path.isdir(os.path.join(d, DOT)):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def new_uuid() -> str:
    return str(uuid.uuid4())


class LatestState(Value):
    """A hashed snapshot of the working directory ($LATEST's code)."""

    __slots__ = (
        "_tree_bytes",
        "code_sha256",
        "code_size",
        "entries",
        "last_modified_ns",
        "manifest",
        "tree",
    )

    def __init__(
        self,
        entries: list[Entry],
        manifest: list[ManifestEntry],
        tree: str,
        code_sha256: str,
        code_size: int,
        last_modified_ns: int,
        tree_bytes: bytes | None = None,
    ) -> None:
        self._tree_bytes = tree_bytes  # made on first use when the scan did not need it
        self.entries = entries
        self.manifest = manifest
        self.tree = tree  # sha256 hex of the canonical manifest
        self.code_sha256 = code_sha256  # base64 of the same digest: what results show as CodeSha256
        self.code_size = code_size
        self.last_modified_ns = last_modified_ns

    @property
    def tree_bytes(self) -> bytes:
        """The canonical manifest (what ``tree`` is the hash of)."""
        if self._tree_bytes is None:
            self._tree_bytes = manifest_bytes(self.manifest)
        return self._tree_bytes


def code_sha256_of(tree_hex: str) -> str:
    import binascii  # base64's own core, without base64's imports

    return binascii.b2a_base64(bytes.fromhex(tree_hex), newline=False).decode()


class Repository:
    def __init__(
        self,
        root: StrPath,
        settings: Settings,
        clock: Callable[[], int] = time.time_ns,
        new_id: Callable[[], str] = new_uuid,
    ) -> None:
        self.root = os.fspath(root)  # paths are strings: pathlib costs start-up time
        self.dot = os.path.join(self.root, DOT)
        self.settings = settings
        self.clock = clock
        self.new_id = new_id
        # Once this process holds the lock to change the repository, every read goes to
        # SQLite itself: a memo made before may be older than what the lock now guards.
        self.lock = RepositoryLock(os.path.join(self.dot, "lock"), on_acquire=self._locked)
        self._memo_off = False
        # What the last scan learnt, for save_caches(): (cache, entries, manifest, start)
        self._pending_cache: tuple[StatCache, list[Entry], list[ManifestEntry], int, str] | None = (
            None
        )
        self.settings_memo: SettingsMemo | None = None
        self.derived = Deferred()  # saves of derived data, made by save_derived()
        self._untouched = False  # keep_untouched() was called
        self.format_version = 0  # not read yet: check_format() reads it
        self._on_lock: Callable[[Repository], object] | None = None
        self.completing = False  # service/pending.py is carrying out an intent: reads may see it

    # --- finding and creating ------------------------------------------------------

    @classmethod
    def discover(cls, start: StrPath, settings: Settings | None = None) -> Repository:
        """The repository at or above ``start``.  Without ``settings``, the user's settings
        are loaded through the repository's memo (see ``service/settings.py``).  Opening a
        repository reads only: it never completes an interrupted operation (see
        :meth:`on_lock`)."""
        root = find_root(start)
        if root is not None:
            memo = None
            if settings is None:
                memo = SettingsMemo(derived_path(root, derived.SETTINGS))
                settings = memo.load()
            repo = cls(root, settings)
            repo.settings_memo = memo
            repo.check_format()
            return repo
        start = os.path.abspath(start)
        raise RepositoryNotFound(
            f"No lambdaver repository (.lambdaver/) in {start} or any parent directory; "
            "create one with 'lambdaver init'"
        )

    @classmethod
    def create(
        cls, root: StrPath, settings: Settings, clock: Callable[[], int] = time.time_ns
    ) -> Repository:
        """Make an empty repository; the caller holds nothing yet.  Built in a temporary
        directory and renamed into place, so an interrupted init leaves no half repository."""
        import json

        root = os.fspath(root)
        tmp = tmp_name(os.path.join(root, DOT))
        try:
            os.mkdir(tmp)
            for sub in ("objects", "objects/pack", "tmp", "cache"):
                os.mkdir(os.path.join(tmp, sub))
            MetaStore.create(os.path.join(tmp, "meta.sqlite"))
            os.close(os.open(os.path.join(tmp, "lock"), os.O_WRONLY | os.O_CREAT, 0o644))
            config = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "created": aws_time(clock()),
            }
            atomic_write(os.path.join(tmp, "config"), json.dumps(config, indent=2).encode() + b"\n")
            os.rename(tmp, os.path.join(root, DOT))  # fails if .lambdaver appeared meanwhile
            fsync_dir(root)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(root, settings, clock)

    def check_format(self) -> None:
        path = os.path.join(self.dot, "config")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError as exc:
            raise RepositoryCorrupt(f"{path} is missing") from exc
        except PermissionError as exc:
            raise RepositoryIOError(f"Cannot read {path}: permission denied") from exc
        probed = _probe_format_version(data)
        if probed is not None and 1 <= probed <= FORMAT_VERSION:  # usual, without json
            self.format_version = probed
            return
        import json

        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise RepositoryCorrupt(f"{path} is not valid JSON") from exc
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if not isinstance(version, int) or raw.get("format") != FORMAT_NAME:
            raise RepositoryCorrupt(f"{path} does not describe a lambdaver repository")
        if version > FORMAT_VERSION:
            raise UnsupportedRepositoryFormat(
                f"Repository format {version} is newer than this lambdaver understands "
                f"(format {FORMAT_VERSION}); upgrade lambdaver"
            )
        self.format_version = version

    def _before_pack(self) -> None:
        """A format 1 repository becomes format 2 before its first pack is written, so an
        older lambdaver refuses it instead of finding its packed blobs missing."""
        if not self.format_version:
            self.check_format()
        if self.format_version >= PACKS_SINCE:
            return
        import json

        path = os.path.join(self.dot, "config")
        with open(path, "rb") as f:
            config = json.loads(f.read())
        config["format_version"] = PACKS_SINCE
        atomic_write(path, json.dumps(config, indent=2).encode() + b"\n")
        self.format_version = PACKS_SINCE

    # --- parts -----------------------------------------------------------------------

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(
            os.path.join(self.dot, "objects"),
            os.path.join(self.dot, "tmp"),
            before_pack=self._before_pack,
        )

    @cached_property
    def meta(self) -> MetaStore:
        memo = None if self._memo_off else self.derived_file(derived.REFS)
        return MetaStore(os.path.join(self.dot, "meta.sqlite"), memo=memo)

    def on_lock(self, hook: Callable[[Repository], object] | None) -> None:
        """Run ``hook`` (under the lock) each time this process takes the lock to change
        the repository: a command that changes it installs ``service.pending``'s
        ``complete_locked`` here, so that an interrupted checkout or import is completed
        before anything else changes.  Reads never run it."""
        self._on_lock = hook

    def _locked(self) -> None:
        self._memo_off = True
        if "meta" in self.__dict__:
            self.meta.bypass_memo()
        if self._on_lock is not None and self.has_pending():
            try:
                self._on_lock(self)
            except BaseException:
                self.lock.release()  # acquire() fails: the caller never releases
                raise

    def has_pending(self) -> bool:
        """An interrupted checkout or import left its intent (service/pending.py)."""
        return os.path.exists(os.path.join(self.dot, PENDING))

    @property
    def function_file_path(self) -> str:
        return os.path.join(self.root, FUNCTION_FILE)

    @cached_property
    def function(self) -> FunctionFile:
        path, cache = self.function_file_path, self.derived_file(derived.FUNCTION)
        fn, cached = load_function_file(path, cache)
        if not cached:  # remember the parsed file if the command succeeds
            self.derived.defer(lambda: save_function_cache(path, cache, fn, time.time_ns()))
        return fn

    def reload_function(self) -> FunctionFile:
        self.__dict__.pop("function", None)
        return self.function

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arns(self) -> Arns:
        return Arns(self.settings.region, self.settings.account_id, self.name)

    def derived_file(self, name: str) -> str:
        """A file of derived data (``name``: one of ``storage.derived``'s names)."""
        return derived_path(self.root, name)

    def derived_value(
        self,
        name: str,
        fmt: object,
        key: tuple[Any, ...] | None,
        types: tuple[type, ...],
        make: Callable[[], tuple[tuple[Any, ...] | None, tuple[Any, ...]]],
    ) -> tuple[Any, ...]:
        """A derived value keyed by ``key``: its fields (one of each of ``types``) as the
        derived-data file ``name`` holds them when it was saved with format ``fmt`` and this
        key, else as ``make`` makes them.  ``make`` returns the key to save them with (the
        state it actually read, which may be newer than ``key``; None: not saved) and the
        fields; the save is deferred until the command succeeds.  ``key`` None: always made.
        The file holds ``(fmt, *key, *fields)`` (docs/FORMAT.md, "Derived data")."""
        path = self.derived_file(name)
        if key is not None:
            found = derived.read(path, fmt, len(key) + len(types))
            if found is not None and found[: len(key)] == key:
                fields = found[len(key) :]
                if all(isinstance(v, t) for v, t in zip(fields, types, strict=True)):
                    return fields
        made_key, fields = make()
        if made_key is not None:
            record = (*made_key, *fields)
            self.derived.defer(lambda: derived.write(path, fmt, *record))
        return fields

    @property
    def settings_memo_path(self) -> str:
        return self.derived_file(derived.SETTINGS)

    def now(self) -> str:
        return aws_time(self.clock())

    # --- $LATEST -----------------------------------------------------------------------

    def scan_latest(
        self, *, store: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> LatestState:
        """Hash the working directory (reading only what the stat cache cannot vouch for);
        with ``store``, also put every blob into the object store.  Refused while an
        interrupted checkout or import is pending: $LATEST may be a mixture of two states."""
        if not self.completing and self.has_pending():
            raise IncompleteOperation(
                "An interrupted checkout or import of $LATEST has not been completed; "
                "run 'lambdaver recover' (or any command that changes the function) to "
                "complete it"
            )
        scan_start_ns = time.time_ns()
        # A scan makes a few container objects per file and no reference cycles: the
        # cyclic garbage collector's passes over them cost 20-40 ms on 20,000 files.
        import gc

        collecting = gc.isenabled()
        gc.disable()
        try:
            entries = scan(self.root, ignore_rules())
            cache = StatCache(self.derived_file(derived.INDEX))
            manifest = build_manifest(
                self.root, entries, cache, self.store if store else None, progress
            )
        finally:
            if collecting:
                gc.enable()
        # Unchanged since the cache was saved: its tree hash holds, no hashing (nor hashlib's
        # import).  publish (store=True) always hashes what it is about to store.
        data = None
        digest = None if store else cache.known_tree(entries)
        if digest is None:
            data = manifest_bytes(manifest)
            digest = sha256(data).hexdigest()
        latest_ns = max((e.mtime_ns for e in entries), default=0)
        try:
            latest_ns = max(latest_ns, os.stat(self.function_file_path).st_mtime_ns)
        except OSError:
            pass
        self._pending_cache = (cache, entries, manifest, scan_start_ns, digest)
        return LatestState(
            entries=entries,
            manifest=manifest,
            tree=digest,
            code_sha256=code_sha256_of(digest),
            code_size=sum(m[2] for m in manifest),
            last_modified_ns=latest_ns,
            tree_bytes=data,
        )

    def keep_untouched(self) -> None:
        """This command writes nothing at all, not even derived data, and reads the
        metadata from SQLite itself (fsck)."""
        self._untouched = True
        self.meta.bypass_memo()

    def save_derived(self) -> None:
        """After a read verb succeeded: write the derived data it found missing or out of
        date.  The memos need no lock (each is replaced by a rename and carries the key it
        was derived from); the stat cache is refreshed only if the lock is free at once, as
        ``git status`` refreshes the index.  Best effort, like every cache.  A command that
        took the lock to change the repository keeps its own caches (``save_caches``) and
        writes nothing more, so one that turned out to change nothing writes nothing."""
        if self._untouched or self.lock.taken:
            return
        if self.settings_memo is not None:
            self.settings_memo.save()
        if "meta" in self.__dict__:
            self.derived.defer(self.meta.save_memo)
        self.derived.flush()
        pending = self._pending_cache
        if pending is None:
            return
        cache, entries, manifest, scan_start_ns, tree = pending
        if not cache.changes(entries, manifest, scan_start_ns, tree) or not self.lock.try_acquire():
            return
        try:
            # A hit promises that the blob is stored and durable (publish relies on it):
            # gc may have removed unreferenced blobs since the scan, and an invoke of
            # $LATEST stores blobs without syncing them.  So, under the lock: every blob
            # must exist, and those the cache did not vouch for yet are synced first.
            known = cache.entries
            fresh = [m[3] for m in manifest if (known.get(m[0]) or [None])[-1] != m[3]]
            has = self.store.has
            if all(has(m[3]) for m in manifest) and self.store.make_durable(fresh):
                cache.refresh(entries, manifest, scan_start_ns, tree)
        except OSError:
            pass
        finally:
            self.lock.release()
            self._pending_cache = None

    def save_caches(self) -> None:
        """Remember the parsed lambdaver.toml and the hashes of the last scan (call under
        the lock, from verbs that change the repository).  Best effort: both are derived
        data, so a full disk here costs speed later, never the command's result."""
        try:
            save_function_cache(
                self.function_file_path,
                self.derived_file(derived.FUNCTION),
                self.function,
                time.time_ns(),
            )
            if self._pending_cache is not None:
                cache, entries, manifest, scan_start_ns, tree = self._pending_cache
                cache.refresh(entries, manifest, scan_start_ns, tree)
                self._pending_cache = None
        except OSError:
            pass
