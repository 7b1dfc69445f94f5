"""The Repository facade: finds ``.lambdaver/``, checks its format, and hands out the
object store, the metadata store, the lock, the function file and the $LATEST scan."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lambdaver.errors import (
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
from lambdaver.service.settings import Settings
from lambdaver.storage.fileutil import RepositoryLock, atomic_write, fsync_dir
from lambdaver.storage.hashing import sha256
from lambdaver.storage.metadata import MetaStore
from lambdaver.storage.objects import ObjectStore
from lambdaver.storage.tree import (
    Entry,
    IgnoreRules,
    ManifestEntry,
    StatCache,
    build_manifest,
    manifest_bytes,
    scan,
)

DOT = ".lambdaver"
IGNORE_FILE = ".lambdaverignore"
FORMAT_VERSION = 1
FORMAT_NAME = "lambdaver-repository"
# An interrupted checkout or import, to be completed by the next command (service/code.py).
PENDING = "pending-apply.json"


def ignore_rules() -> IgnoreRules:
    """Contract §1: always ignored, whatever .lambdaverignore says."""
    return IgnoreRules(
        names_anywhere=frozenset({DOT, ".git", "__pycache__"}),
        root_names=frozenset({FUNCTION_FILE, IGNORE_FILE}),
        suffixes=(".pyc",),
        ignore_file=IGNORE_FILE,
    )


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class LatestState:
    """A hashed snapshot of the working directory ($LATEST's code)."""

    entries: list[Entry]
    manifest: list[ManifestEntry]
    tree: str  # sha256 hex of the canonical manifest
    tree_bytes: bytes
    code_sha256: str  # base64 of the same digest: what results show as CodeSha256
    code_size: int
    last_modified_ns: int


def code_sha256_of(tree_hex: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(tree_hex)).decode()


class Repository:
    def __init__(
        self,
        root: Path,
        settings: Settings,
        clock: Callable[[], int] = time.time_ns,
        new_id: Callable[[], str] = new_uuid,
    ) -> None:
        self.root = root
        self.dot = root / DOT
        self.settings = settings
        self.clock = clock
        self.new_id = new_id
        self.lock = RepositoryLock(self.dot / "lock")
        # What the last scan learnt, for save_caches(): (cache, entries, manifest, start)
        self._pending_cache: tuple[StatCache, list[Entry], list[ManifestEntry], int] | None = None

    # --- finding and creating ------------------------------------------------------

    @classmethod
    def discover(cls, start: Path, settings: Settings) -> Repository:
        start = start.absolute()
        for d in (start, *start.parents):
            if (d / DOT).is_dir():
                repo = cls(d, settings)
                repo.check_format()
                if (repo.dot / PENDING).exists():
                    from lambdaver.service.code import recover_pending

                    recover_pending(repo)
                return repo
        raise RepositoryNotFound(
            f"No lambdaver repository (.lambdaver/) in {start} or any parent directory; "
            "create one with 'lambdaver init'"
        )

    @classmethod
    def create(
        cls, root: Path, settings: Settings, clock: Callable[[], int] = time.time_ns
    ) -> Repository:
        """Make an empty repository; the caller holds nothing yet.  Built in a temporary
        directory and renamed into place, so an interrupted init leaves no half repository."""
        tmp = root / f"{DOT}.tmp.{os.getpid()}"
        try:
            tmp.mkdir()
            for sub in ("objects", "tmp", "cache"):
                (tmp / sub).mkdir()
            MetaStore.create(tmp / "meta.sqlite")
            (tmp / "lock").touch()
            config = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "created": aws_time(clock()),
            }
            atomic_write(tmp / "config", json.dumps(config, indent=2).encode() + b"\n")
            os.rename(tmp, root / DOT)  # noqa: PTH104 - fails if .lambdaver appeared meanwhile
            fsync_dir(root)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(root, settings, clock)

    def check_format(self) -> None:
        path = self.dot / "config"
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError as exc:
            raise RepositoryCorrupt(f"{path} is missing") from exc
        except PermissionError as exc:
            raise RepositoryIOError(f"Cannot read {path}: permission denied") from exc
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

    # --- parts -----------------------------------------------------------------------

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.dot / "objects", self.dot / "tmp")

    @cached_property
    def meta(self) -> MetaStore:
        return MetaStore(self.dot / "meta.sqlite")

    @property
    def function_file_path(self) -> Path:
        return self.root / FUNCTION_FILE

    @cached_property
    def function(self) -> FunctionFile:
        return load_function_file(self.function_file_path, self.dot / "cache" / "function.json")

    def reload_function(self) -> FunctionFile:
        self.__dict__.pop("function", None)
        return self.function

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arns(self) -> Arns:
        return Arns(self.settings.region, self.settings.account_id, self.name)

    def now(self) -> str:
        return aws_time(self.clock())

    # --- $LATEST -----------------------------------------------------------------------

    def scan_latest(
        self, *, store: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> LatestState:
        """Hash the working directory (reading only what the stat cache cannot vouch for);
        with ``store``, also put every blob into the object store."""
        scan_start_ns = time.time_ns()
        entries = scan(self.root, ignore_rules())
        cache = StatCache(self.dot / "index")
        manifest = build_manifest(
            self.root, entries, cache, self.store if store else None, progress
        )
        data = manifest_bytes(manifest)
        digest = sha256(data).hexdigest()
        latest_ns = max((e.mtime_ns for e in entries), default=0)
        try:
            latest_ns = max(latest_ns, self.function_file_path.stat().st_mtime_ns)
        except OSError:
            pass
        self._pending_cache = (cache, entries, manifest, scan_start_ns)
        return LatestState(
            entries=entries,
            manifest=manifest,
            tree=digest,
            tree_bytes=data,
            code_sha256=code_sha256_of(digest),
            code_size=sum(m[2] for m in manifest),
            last_modified_ns=latest_ns,
        )

    def save_caches(self) -> None:
        """Remember the parsed lambdaver.toml and the hashes of the last scan (call under
        the lock, from verbs that change the repository).  Best effort: both are derived
        data, so a full disk here costs speed later, never the command's result."""
        try:
            save_function_cache(
                self.function_file_path,
                self.dot / "cache" / "function.json",
                self.function,
                time.time_ns(),
            )
            if self._pending_cache is not None:
                cache, entries, manifest, scan_start_ns = self._pending_cache
                cache.refresh(entries, {m[0]: m[3] for m in manifest}, scan_start_ns)
        except OSError:
            pass
