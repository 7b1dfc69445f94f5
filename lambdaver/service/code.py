"""Code in and out: ``diff``, ``checkout``, ``export`` (a deployment zip) and ``import``
(``update-function-code``).

``checkout`` and ``import`` change ``$LATEST``'s files in three phases: every check first
(nothing written), then every new file staged, verified, in ``.lambdaver/tmp/`` (a failure
removes the staging directory: nothing changed), then deletions and one rename per file
into place.  Ignored files, ``lambdaver.toml`` (except that checkout rewrites it),
``.lambdaverignore`` and ``.lambdaver/`` are never touched by the file phase.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lambdaver.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
)
from lambdaver.model.config import FunctionConfig
from lambdaver.model.names import LATEST
from lambdaver.model.records import FunctionConfiguration, VersionRecord, version_configuration
from lambdaver.model.results import Diff, Export, FileChanges, FunctionDetails, ImportResult
from lambdaver.service.function_file import read_function_cache
from lambdaver.service.functions import (
    ViewRenderer,
    check_revision_id,
    compare_configs,
    compare_manifests,
    config_hash,
    latest_configuration,
    read_manifest,
    resolve,
)
from lambdaver.service.pending import Plan, apply, staged_in
from lambdaver.service.repository import VERSIONS, LatestState, Repository, ignore_rules
from lambdaver.storage import derived
from lambdaver.storage.fileutil import tmp_name
from lambdaver.storage.objects import CHUNK
from lambdaver.storage.tree import (
    MODE_EXEC,
    MODE_FILE,
    MODE_LINK,
    IgnoreRules,
    ManifestEntry,
    _check_link,
)

# --- what a qualifier names ------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The code and configuration a qualifier names.  ``record`` is None for $LATEST,
    whose blobs are read from the working directory instead of the object store."""

    label: str
    version: str
    manifest: list[ManifestEntry]
    config: FunctionConfig
    record: VersionRecord | None
    tree: str
    config_hash: str


def snapshot(
    repo: Repository, qualifier: str | None, latest: LatestState | None = None
) -> Snapshot:
    res = resolve(repo, qualifier)
    label = qualifier or LATEST
    if res.record is None:
        state = latest if latest is not None else repo.scan_latest()
        cfg = repo.function.config
        return Snapshot(label, LATEST, state.manifest, cfg, None, state.tree, config_hash(cfg))
    rec = res.record
    manifest = read_manifest(repo, rec.tree)
    return Snapshot(label, rec.version, manifest, rec.config, rec, rec.tree, rec.config_hash)


def _blob(repo: Repository, snap: Snapshot, entry: ManifestEntry) -> bytes:
    path, mode, _size, digest = entry
    if snap.record is not None:
        return repo.store.get_bytes(digest)
    full = Path(repo.root) / path
    if mode == MODE_LINK:
        return str(full.readlink()).encode("utf-8", "surrogateescape")
    return full.read_bytes()


# --- diff ------------------------------------------------------------------------------


def diff(repo: Repository, a: str, b: str | None = None, *, patch: bool = False) -> Diff:
    """What differs from ``a`` to ``b`` (default $LATEST): files and configuration, in
    ``status``'s shape; with ``patch``, a git-style unified diff of the text files and of
    the configuration.  An alias side is its primary version; when it also routes some
    traffic elsewhere, ``Routing`` says so for that side (``From``/``To``) and the sides
    are ``Equal`` only if they route the same way too."""
    latest: LatestState | None = None
    if LATEST in (a, b or LATEST):
        latest = repo.scan_latest()
    left = snapshot(repo, a, latest)
    right = snapshot(repo, b or LATEST, latest)
    files = compare_manifests(left.manifest, right.manifest)
    configuration = compare_configs(left.config, right.config)
    weights = {"From": _routing(repo, left), "To": _routing(repo, right)}
    routing = {
        side: {"Alias": snap.label, "FunctionVersion": snap.version, **weights[side]}
        for side, snap in (("From", left), ("To", right))
        if weights[side]
    }
    same_routing = weights["From"] == weights["To"]
    text = None
    if patch:
        text = _routing_notes(routing) + _patch(repo, left, right, files)
        if configuration:
            text += _config_patch(left, right)
    return Diff(
        not files.paths() and not configuration and same_routing,
        left.label,
        right.label,
        files,
        configuration,
        text,
        routing or None,
    )


def _routing(repo: Repository, snap: Snapshot) -> dict[str, Any]:
    """``{"AdditionalVersionWeights": {...}}`` when ``snap`` is a weighted alias, else {}."""
    if snap.label == LATEST or snap.label.isdigit():
        return {}
    res = resolve(repo, snap.label)
    if res.alias is None or not res.alias.weights:
        return {}
    return {"AdditionalVersionWeights": dict(res.alias.weights)}


def _routing_notes(routing: dict[str, Any]) -> str:
    """``# routing: ...`` lines at the head of a patch: the patch shows an alias's primary
    version only, so say where the rest of its traffic goes."""
    notes = []
    for r in routing.values():
        for version, weight in r["AdditionalVersionWeights"].items():
            notes.append(
                f"# routing: {r['Alias']} runs version {r['FunctionVersion']} and sends "
                f"{weight * 100:g}% of its invocations to version {version} (not shown)\n"
            )
    return "".join(notes)


def _config_lines(cfg: FunctionConfig) -> dict[str, str]:
    """The configuration as lambdaver.toml spells it: ``{key: "key = value"}``, with the
    environment's variables as TOML dotted keys (``environment.STAGE = "prod"``)."""
    fields: dict[str, Any] = {
        "runtime": cfg.runtime,
        "handler": cfg.handler,
        "memory_size": cfg.memory_size,
        "timeout": cfg.timeout,
        "description": cfg.description,
    }
    for k, v in sorted((cfg.environment or {}).items()):
        fields[f"environment.{k}"] = v
    return {k: f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()}


def _config_patch(left: Snapshot, right: Snapshot) -> str:
    """The configuration's changes, after the files' diffs, as ``#`` lines (which patch(1)
    and ``git apply`` pass over, so the patch still applies to the code):
    ``# configuration A -> B``, then ``# -key = old`` / ``# +key = new`` per changed key
    of lambdaver.toml (the function's name left out)."""
    old, new = _config_lines(left.config), _config_lines(right.config)
    out = [f"# configuration {left.label} -> {right.label}\n"]
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key) != new.get(key):
            out += [f"# -{old[key]}\n"] if key in old else []
            out += [f"# +{new[key]}\n"] if key in new else []
    return "".join(out)


def _text(data: bytes) -> str | None:
    """The text of a file, or None when it is binary (as git decides: a NUL byte in the
    first 8 KB), or not UTF-8."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _patch(repo: Repository, left: Snapshot, right: Snapshot, files: FileChanges) -> str:
    import difflib

    before = {m[0]: m for m in left.manifest}
    after = {m[0]: m for m in right.manifest}
    out: list[str] = []
    for path in sorted(set(files.paths())):
        old, new = before.get(path), after.get(path)
        out.append(f"diff --git a/{path} b/{path}\n")
        if old is None and new is not None:
            out.append(f"new file mode {new[1]}\n")
        elif new is None and old is not None:
            out.append(f"deleted file mode {old[1]}\n")
        elif old is not None and new is not None and old[1] != new[1]:
            out += [f"old mode {old[1]}\n", f"new mode {new[1]}\n"]
        if old is not None and new is not None and old[3] == new[3]:
            continue  # the mode alone changed
        a_name = f"a/{path}" if old is not None else "/dev/null"
        b_name = f"b/{path}" if new is not None else "/dev/null"
        a_text = _text(_blob(repo, left, old)) if old is not None else ""
        b_text = _text(_blob(repo, right, new)) if new is not None else ""
        if a_text is None or b_text is None:
            out.append(f"Binary files {a_name} and {b_name} differ\n")
            continue
        for line in difflib.unified_diff(
            a_text.splitlines(keepends=True), b_text.splitlines(keepends=True), a_name, b_name
        ):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# --- applying a new set of files to $LATEST -------------------------------------------------


def _ignored(rules: IgnoreRules, path: str) -> bool:
    """Would a scan leave ``path`` (or a directory above it) out?"""
    parts = path.split("/")
    for i, name in enumerate(parts):
        rel = "/".join(parts[: i + 1])
        if rules.skip(rel, name, i < len(parts) - 1, i == 0):
            return True
    return False


def _check_conflicts(root: Path, tracked: set[str], targets: list[str], removed: set[str]) -> None:
    """Refuse (before anything is written) to replace or remove anything that is not a
    tracked file of $LATEST: an ignored file where a new file or directory must go, or a
    directory holding ignored files where a new file must go."""
    for path in targets:
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            try:
                st = os.lstat(root / d)
            except FileNotFoundError:
                break
            if not stat.S_ISDIR(st.st_mode) and d not in removed:
                raise ResourceConflictException(
                    f"'{d}' is not part of $LATEST's code (it is ignored) and is in the way "
                    f"of '{path}'; move it away first"
                )
        full = root / path
        if full.is_symlink() or not full.exists():
            if full.is_symlink() and path not in tracked:
                raise ResourceConflictException(
                    f"'{path}' is not part of $LATEST's code (it is ignored) and would be "
                    "overwritten; move it away first"
                )
            continue
        if full.is_dir():
            for dirpath, dirs, names in os.walk(full):
                links = [d for d in dirs if Path(dirpath, d).is_symlink()]  # not walked into
                for name in names + links:
                    rel = Path(dirpath, name).relative_to(root).as_posix()
                    if rel not in removed:
                        raise ResourceConflictException(
                            f"'{path}' is a directory holding files that are not part of "
                            f"$LATEST's code ('{rel}'), where a file must go; move it away first"
                        )
        elif path not in tracked:
            raise ResourceConflictException(
                f"'{path}' is not part of $LATEST's code (it is ignored) and would be "
                "overwritten; move it away first"
            )


def _file_mode(mode: str) -> int:
    return 0o755 if mode == MODE_EXEC else 0o644


# --- checkout --------------------------------------------------------------------------


def _published(repo: Repository, tree: str, chash: str | None) -> bool:
    """Does some version hold exactly this code (and, when known, configuration)?"""
    for _number, raw in repo.meta.items(VERSIONS):
        if tree in raw:
            rec = VersionRecord.from_json(raw)
            if rec.tree == tree and (chash is None or rec.config_hash == chash):
                return True
    return False


def _function_name_fallback(repo: Repository) -> str:
    """The function's name when lambdaver.toml is missing: the parsed copy in the cache,
    else the name in the newest version's stored rendering, else the directory's name."""
    cached = read_function_cache(repo.derived_file(derived.FUNCTION))
    if cached is not None:
        return cached[0]
    for _number, _raw, view in reversed(repo.meta.views(VERSIONS)):
        m = re.search(r'"FunctionName": ("(?:[^"\\]|\\.)*")', view or "")
        if m:
            return str(json.loads(m.group(1)))
    return Path(repo.root).name


def checkout(repo: Repository, qualifier: str, *, force: bool = False) -> FunctionConfiguration:
    """Make $LATEST (code and ``lambdaver.toml``'s configuration) equal to what
    ``qualifier`` names; returns $LATEST's FunctionConfiguration afterwards.

    Refused without ``force`` when $LATEST holds unpublished work: code and configuration
    that equal no published version (and differ from the target).  Ignored files are never
    touched; the function's name in ``lambdaver.toml`` is kept.
    """
    with repo.lock.held():
        toml = Path(repo.function_file_path)
        try:
            fn = repo.reload_function()
            name, cfg = fn.name, fn.config
            chash: str | None = config_hash(cfg)
        except InvalidParameterValueException:
            if toml.exists() or toml.is_symlink():
                raise  # unreadable or broken: the user's to fix, not to overwrite
            name, cfg, chash = _function_name_fallback(repo), None, None
        res = resolve(repo, qualifier)
        state = repo.scan_latest()
        if res.record is None:  # $LATEST, or an alias pointing at it: nothing to do
            return latest_configuration(repo, state, None)
        rec = res.record
        if state.tree == rec.tree and chash == rec.config_hash:
            return latest_configuration(repo, state, None)
        if not force and not _published(repo, state.tree, chash):
            raise ResourceConflictException(_unpublished_message(repo, state, cfg))
        target = {m[0]: m for m in read_manifest(repo, rec.tree)}
        current = {m[0]: m for m in state.manifest}
        tracked = set(current)
        rules = ignore_rules()
        rules.load(repo.root)
        for path in target:
            if _ignored(rules, path):
                raise ResourceConflictException(
                    f"Version {rec.version} holds '{path}', which .lambdaverignore ignores "
                    "here, so $LATEST could not hold it; change .lambdaverignore first"
                )
        removed = tracked - set(target)
        changed = [
            p
            for p, m in target.items()
            if p not in current or (current[p][1], current[p][3]) != (m[1], m[3])
        ]
        _check_conflicts(Path(repo.root), tracked, changed, removed)
        with staged_in(repo, "checkout") as staging:
            plan = Plan(staging, delete=sorted(removed))
            for i, path in enumerate(changed):
                _p, mode, _size, digest = target[path]
                staged = str(staging / str(i))
                if mode == MODE_LINK:
                    link = repo.store.get_bytes(digest).decode("utf-8", "surrogateescape")
                    Path(staged).symlink_to(link)
                else:
                    repo.store.copy_blob(digest, staged, _file_mode(mode))
                plan.stage[path] = (mode, staged)
            function = (name, rec.config) if cfg != rec.config else None
            if plan.stage or plan.delete or function is not None:
                apply(repo, plan, function=function)
        return latest_configuration(repo, repo.scan_latest(), None)


def _unpublished_message(repo: Repository, state: LatestState, cfg: FunctionConfig | None) -> str:
    from lambdaver.service.functions import newest_version

    newest = newest_version(repo)
    what: list[str] = []
    if newest is not None:
        files = compare_manifests(read_manifest(repo, newest.tree), state.manifest)
        for kind, paths in (
            ("added", files.added),
            ("modified", files.modified),
            ("deleted", files.deleted),
        ):
            if paths:
                shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
                what.append(f"{kind}: {shown}")
        if cfg is not None and compare_configs(newest.config, cfg):
            what.append("configuration: " + ", ".join(compare_configs(newest.config, cfg)))
        detail = f" ({'; '.join(what)} since version {newest.version})" if what else ""
    else:  # nothing published yet: every file is new
        paths = [m[0] for m in state.manifest]
        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        detail = f" (added: {shown})" if paths else ""
    return (
        f"$LATEST has unpublished changes{detail} that no version holds; publish them "
        "first, or use --force to discard them"
    )


# --- export ----------------------------------------------------------------------------


def is_code_path(repo: Repository, path: Path) -> bool:
    """Would ``path`` (a file about to be written) be part of $LATEST's code?"""
    try:
        rel = path.absolute().relative_to(repo.root).as_posix()
    except ValueError:
        return False
    rules = ignore_rules()
    rules.load(repo.root)
    return not _ignored(rules, rel)


def leave_out(repo: Repository, path: Path) -> str | None:
    """Make sure the file ``path`` that lambdaver is about to write never becomes code:
    a path of the function's directory that is not ignored yet is appended to its
    ``.lambdaverignore`` (as ``/rel/path``; the file is made if missing) and that line is
    returned; None when nothing had to change.  An existing file that is already code is
    refused: writing it would change $LATEST's code."""
    if not is_code_path(repo, path):
        return None
    rel = path.absolute().relative_to(repo.root).as_posix()
    if path.exists():
        raise InvalidParameterValueException(
            f"Cannot write {rel}: it is a file of $LATEST's code; write it elsewhere, or "
            "list it in .lambdaverignore if it is not code"
        )
    from lambdaver.service.repository import IGNORE_FILE
    from lambdaver.storage.fileutil import atomic_write

    ignore = Path(repo.root) / IGNORE_FILE
    line = "/" + "".join("\\" + c if c in "*?[]!#\\ " else c for c in rel)
    with repo.lock.held():
        try:
            old = ignore.read_bytes()
        except FileNotFoundError:
            old = b""
        sep = b"" if not old or old.endswith(b"\n") else b"\n"
        atomic_write(ignore, old + sep + line.encode() + b"\n")
    return line


ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def _zip_info(path: str, mode: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
    info.create_system = 3  # unix: external_attr carries the mode
    info.compress_type = zipfile.ZIP_DEFLATED  # zlib's default level (6)
    kind = {MODE_LINK: 0o120777, MODE_EXEC: 0o100755}.get(mode, 0o100644)
    info.external_attr = kind << 16
    info.file_size = size
    return info


def write_zip(
    repo: Repository, qualifier: str | None, out: IO[bytes], latest: LatestState | None = None
) -> Export:
    """Write the deployment package of ``qualifier`` to the seekable file ``out``.

    Byte-reproducible: entries sorted by path, no directory entries, fixed timestamps,
    modes normalised to 0644/0755 (symlinks 0777, stored as their target), deflate.
    Every blob is verified as it is copied.  Returns CodeSha256 (base64 sha256 of the zip,
    as AWS reports it), CodeSize and Version (no ZipFile: the caller knows where ``out`` is).
    ``latest``: a scan of $LATEST already made, used when ``qualifier`` names $LATEST.
    """
    snap = snapshot(repo, qualifier, latest)
    start = out.tell()
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for entry in snap.manifest:
            path, mode, size, digest = entry
            info = _zip_info(path, mode, size)
            if mode == MODE_LINK or snap.record is None:
                data = _blob(repo, snap, entry)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise InvalidParameterValueException(
                        f"'{path}' changed while it was being exported; try again"
                    )
                info.file_size = len(data)
                with zf.open(info, "w") as dst:
                    dst.write(data)
                continue
            with zf.open(info, "w") as dst:
                for chunk in repo.store.stream_blob(digest):
                    dst.write(chunk)
    end = out.tell()
    out.seek(start)
    h = hashlib.sha256()
    remaining = end - start
    while remaining:
        chunk = out.read(min(CHUNK, remaining))
        if not chunk:
            break
        h.update(chunk)
        remaining -= len(chunk)
    out.seek(end)
    return Export(base64.b64encode(h.digest()).decode(), end - start, snap.version)


def export(
    repo: Repository, qualifier: str | None, dest: Path, latest: LatestState | None = None
) -> Export:
    """``write_zip`` to ``dest``, atomically (a temporary file beside it, then a rename)."""
    tmp = Path(tmp_name(dest))
    try:
        f = open(tmp, "w+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidParameterValueException(f"Cannot write {dest}: {exc.strerror}") from exc
    try:
        with f:
            result = write_zip(repo, qualifier, f, latest)
            f.flush()
            os.fsync(f.fileno())
        try:
            tmp.replace(dest)
        except OSError as exc:
            raise InvalidParameterValueException(f"Cannot write {dest}: {exc.strerror}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return result.replace(zip_file=str(dest))


# --- get-function: the configuration and the deployment package -------------------------

#: Changes when write_zip's output for a given tree changes: part of a package's name.
PACKAGE_FORMAT = 1


def get_function(repo: Repository, qualifier: str | None) -> FunctionDetails:
    """``get-function``: what ``get-function-configuration`` returns, and a ``file://`` URL
    of the deployment package, the bytes ``export`` writes.

    The package is derived data (``.lambdaver/cache/zip/``): named by the code's tree hash
    (its bytes depend on nothing else), written atomically when missing and reused after.
    $LATEST's package is ``latest-TREE.zip`` and a newer one replaces it, so editing
    $LATEST does not pile packages up; a version's is ``TREE.zip``.
    """
    res = resolve(repo, qualifier)
    latest = None
    if res.record is None:
        latest = repo.scan_latest()
        configuration = latest_configuration(repo, latest, qualifier)
        name = f"latest-{latest.tree}.{PACKAGE_FORMAT}.zip"
    else:
        configuration = version_configuration(repo.arns, res.record, qualifier)
        name = f"{res.record.tree}.{PACKAGE_FORMAT}.zip"
    directory = Path(repo.derived_file(derived.PACKAGES))
    package = directory / name
    if not package.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        export(repo, qualifier, package, latest)
        if latest is not None:
            for old in directory.glob("latest-*.zip"):
                if old.name != name:
                    with contextlib.suppress(OSError):
                        old.unlink()
    return FunctionDetails(configuration, package.absolute().as_uri())


# --- import ----------------------------------------------------------------------------

MAX_UNZIPPED = 262_144_000  # AWS's limit on a function's unzipped code
MAX_RATIO = 100  # uncompressed : compressed, for entries over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_LINK = 4096

NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class _ZipEntry:
    path: str
    mode: str
    info: zipfile.ZipInfo


def _refuse(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def _entry_path(raw: str) -> str:
    """The normalised relative path of a zip entry, or a refusal for one that would escape."""
    if "\0" in raw or "\\" in raw:
        raise _refuse(f"Zip entry '{raw}' has a backslash or NUL in its name; refused")
    if raw.startswith("/") or re.match(r"[A-Za-z]:(/|$)", raw):
        raise _refuse(f"Zip entry '{raw}' has an absolute path; refused")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(f"Zip entry '{raw}' leads outside the function directory; refused")
    return "/".join(parts)


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with zf.open(info) as f:
            return f.read()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise _refuse(f"{NOT_A_ZIP} ('{info.filename}': {exc})") from exc


def _check_zip(zf: zipfile.ZipFile) -> list[_ZipEntry]:
    """Every check on a zip's directory (and its symlinks' targets), before anything is
    written: names that escape, duplicates, encryption, unknown methods, special files,
    AWS's unzipped-size limit, suspicious compression ratios."""
    entries: list[_ZipEntry] = []
    seen: set[str] = set()
    dirs: set[str] = set()
    total = 0
    for info in zf.infolist():
        path = _entry_path(info.filename)
        if info.flag_bits & 0x1:
            raise _refuse(f"Zip entry '{info.filename}' is encrypted; refused")
        if info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
            zipfile.ZIP_BZIP2,
            zipfile.ZIP_LZMA,
        ):
            raise _refuse(
                f"Zip entry '{info.filename}' uses an unsupported compression method "
                f"({info.compress_type})"
            )
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise _refuse(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(
                f"Zip entry '{info.filename}' has a suspicious compression ratio "
                f"({info.file_size} bytes from {info.compress_size}); refused"
            )
        unix = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(unix)
        if info.is_dir() or kind == stat.S_IFDIR:
            if path:
                dirs.add(path)
            continue
        if not path:
            raise _refuse(f"Zip entry '{info.filename}' has no name; refused")
        if kind == stat.S_IFLNK:
            mode = MODE_LINK
        elif kind in (0, stat.S_IFREG):
            mode = MODE_EXEC if unix & 0o111 else MODE_FILE
        else:
            raise _refuse(
                f"Zip entry '{info.filename}' is not a regular file, directory or symlink"
            )
        if path in seen:
            raise _refuse(f"Zip entry '{path}' appears more than once; refused")
        seen.add(path)
        entries.append(_ZipEntry(path, mode, info))
    for e in entries:
        parts = e.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise _refuse(
                    f"Zip entry '{'/'.join(parts[:i])}' is a file and also a directory "
                    f"(of '{e.path}'); refused"
                )
        if e.path in dirs:
            raise _refuse(f"Zip entry '{e.path}' is a file and also a directory; refused")
        if e.mode == MODE_LINK:
            if e.info.file_size > MAX_LINK:
                raise _refuse(f"Zip entry '{e.path}' is a symlink with a too long target")
            target = _read_entry(zf, e.info).decode("utf-8", "surrogateescape")
            _check_link(e.path, target)
    return sorted(entries, key=lambda e: e.path)


def _open_zip(source: Path | IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise _refuse(NOT_A_ZIP) from exc
    except IsADirectoryError as exc:
        raise _refuse(f"{source} is a directory, not a zip file") from exc
    except OSError as exc:
        raise _refuse(f"Cannot read {source}: {exc.strerror}") from exc


def _replaceable(repo: Repository, state: LatestState) -> bool:
    """May $LATEST's code be replaced without ``--force``?  When no work would be lost:
    some version holds exactly this code, or there is no code, or the only code is the
    starter file ``init`` wrote, unchanged (a new function's first import)."""
    if _published(repo, state.tree, None):
        return True
    from lambdaver.service.functions import STARTER_APP, STARTER_BOOTSTRAP, STARTER_NODE

    starters = {hashlib.sha256(s.encode()).hexdigest()
                for s in (STARTER_APP, STARTER_NODE, STARTER_BOOTSTRAP)}  # fmt: skip
    return all(m[3] in starters for m in state.manifest)


def import_zip(
    repo: Repository,
    source: Path | IO[bytes],
    *,
    publish: bool = False,
    revision_id: str | None = None,
    view: ViewRenderer | None = None,
    force: bool = False,
) -> ImportResult:
    """Replace $LATEST's code with a zip's (``update-function-code``).

    Every check comes first, then every file is staged (which also checks each entry's
    CRC), and only then does $LATEST change: tracked files not in the zip are deleted and
    the zip's files put in place.  Ignored files, ``lambdaver.toml``, ``.lambdaverignore``
    and ``.lambdaver/`` are never touched; zip entries that $LATEST would ignore are left
    out (and reported).  ``publish`` publishes the result under the same lock (AWS's
    ``--publish``); ``revision_id`` makes the whole step conditional on $LATEST's
    RevisionId; ``view``: as for publish.

    Refused without ``force`` when the import would change code that no version holds
    (:func:`_replaceable`): the working directory is its only copy.  The configuration is
    not replaced, so only the code counts.
    """
    with _open_zip(source) as zf:
        entries = _check_zip(zf)
        with repo.lock.held():
            cfg = repo.reload_function().config
            state = repo.scan_latest()
            check_revision_id(repo, state, cfg, revision_id)
            rules = ignore_rules()
            rules.load(repo.root)
            skipped = [e.path for e in entries if _ignored(rules, e.path)]
            kept = [e for e in entries if not _ignored(rules, e.path)]
            current = {m[0]: m for m in state.manifest}
            tracked = set(current)
            removed = tracked - {e.path for e in kept}
            _check_conflicts(Path(repo.root), tracked, [e.path for e in kept], removed)
            unpublished = not force and not _replaceable(repo, state)
            if unpublished and removed:
                raise ResourceConflictException(_unpublished_message(repo, state, None))
            with staged_in(repo, "import") as staging:
                plan = Plan(staging, delete=sorted(removed))
                for i, e in enumerate(kept):
                    staged = str(staging / str(i))
                    digest = _stage_entry(zf, e, staged)
                    now = current.get(e.path)
                    if now is not None and (now[1], now[3]) == (e.mode, digest):
                        continue  # already so: leave the file (and its mtime) alone
                    plan.stage[e.path] = (e.mode, staged)
                if unpublished and (plan.stage or plan.delete):  # the same zip again is fine
                    raise ResourceConflictException(_unpublished_message(repo, state, None))
                if plan.stage or plan.delete:
                    published = apply(repo, plan, publish=publish, view=view)
                    if published is not None:
                        return ImportResult(published, skipped)
            if publish:
                from lambdaver.service.functions import publish as publish_version

                return ImportResult(publish_version(repo, view=view), skipped)
            return ImportResult(latest_configuration(repo, repo.scan_latest(), None), skipped)


def _stage_entry(zf: zipfile.ZipFile, e: _ZipEntry, staged: str) -> str:
    """Write one entry to ``staged``; return the sha256 hex of its content."""
    if e.mode == MODE_LINK:
        data = _read_entry(zf, e.info)
        Path(staged).symlink_to(data.decode("utf-8", "surrogateescape"))
        return hashlib.sha256(data).hexdigest()
    h = hashlib.sha256()
    mode = _file_mode(e.mode)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as dst, zf.open(e.info) as src:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _refuse(f"{NOT_A_ZIP} ('{e.info.filename}': {exc})") from exc
    Path(staged).chmod(mode)
    return h.hexdigest()
