"""Function and version operations: init, configuration, status, publish, list, show, delete."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdaver.model.config import DEFAULT_HANDLER, FunctionConfig, validate_environment
from lambdaver.model.names import (
    LATEST,
    is_version_number,
    validate_function_name,
    validate_qualifier,
)
from lambdaver.model.records import (
    AliasState,
    FunctionConfiguration,
    VersionRecord,
    function_configuration,
    version_configuration,
)
from lambdaver.model.timefmt import aws_time
from lambdaver.service.function_file import FUNCTION_FILE, read_function_file, write_function_file
from lambdaver.service.repository import (
    ALIASES,
    DOT,
    VERSION_COUNTER,
    VERSIONS,
    LatestState,
    Repository,
)
from lambdaver.service.settings import Settings
from lambdaver.storage import derived
from lambdaver.storage.hashing import sha256_small
from lambdaver.storage.metadata import Conflict
from lambdaver.storage.tree import ManifestEntry, manifest_from_bytes
from lambdaver.value import Value

if TYPE_CHECKING:
    from pathlib import Path

    from lambdaver.model.results import FileChanges, Status, VersionList
    from lambdaver.storage.fileutil import StrPath
    from lambdaver.storage.tree import IgnoreRules

#: The derived-data files of a front end's fast listing (docs/FORMAT.md, "Derived data").
VERSIONS_LISTING = derived.VERSIONS_LISTING
LATEST_LISTING = derived.LATEST_LISTING

#: Renders a version's configuration for the ``view`` stored beside its ref (publish).
ViewRenderer = Callable[[FunctionConfiguration], str]

STARTER_APP = '''\
import json


def handler(event, context):
    """Entry point: lambdaver calls handler(event, context), as AWS Lambda does."""
    print("received event:", json.dumps(event))
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"message": f"Hello, {name}!", "version": context.function_version}
'''


STARTER_NODE = """\
// Entry point: lambdaver calls handler(event, context), as AWS Lambda does.
export const handler = async (event, context) => {
  console.log("received event:", JSON.stringify(event));
  const name = event && typeof event === "object" && event.name ? event.name : "world";
  return { message: `Hello, ${name}!`, version: context.functionVersion };
};
"""

#: A custom runtime's starter: a bootstrap speaking the Lambda Runtime API with curl.
STARTER_BOOTSTRAP = """\
#!/bin/sh
# A custom runtime (provided.al2023): this file is started once per execution
# environment, asks the Lambda Runtime API for each event and posts the answer.
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -LD "$HEADERS" "$API/next")"
  REQUEST_ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" \\
    | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  echo "received event: $EVENT"
  curl -sS -o /dev/null -X POST "$API/$REQUEST_ID/response" \\
    -d "{\\"message\\": \\"Hello from a custom runtime\\", \\"event\\": $EVENT}"
done
"""


#: What ``init`` writes to ``.lambdaverignore`` (never over an existing one): what a
#: Lambda deployment package leaves out.  ``.gitignore`` is not read (docs/code.md).
DEFAULT_IGNORE = """\
# Left out of the function's code (gitignore syntax).  Always left out as well:
# .lambdaver/, lambdaver.toml, .lambdaverignore, .git/, __pycache__/, *.pyc.
# .gitignore is not read: build outputs it ignores are often the code you deploy.

# virtual environments
.venv/
venv/
env/

# tools' caches
.pytest_cache/
.mypy_cache/
.ruff_cache/
.tox/
.nox/
.hypothesis/
.coverage
htmlcov/
node_modules/.cache/
*.egg-info/

# deployment packages (lambdaver export writes these) and other tools' build areas
*.zip
.aws-sam/
.serverless/

# editors and operating systems
.DS_Store
Thumbs.db
.idea/
.vscode/
*.swp
"""


def default_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


# --- reading state --------------------------------------------------------------------


def latest_revision_id(tree: str, config_hash: str, counter: int) -> str:
    """$LATEST's RevisionId: changes whenever its code or configuration changes, and with
    every publish (as AWS's does), and is stable otherwise."""
    digest = sha256_small(f"{tree}:{config_hash}:{counter}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def current_revision_id(
    repo: Repository, state: LatestState, cfg: FunctionConfig, counter: int | None = None
) -> str:
    """$LATEST's RevisionId now, from a scan of its code and its configuration (and the
    version counter, read from the metadata unless given)."""
    if counter is None:
        counter = repo.meta.counter(VERSION_COUNTER)
    return latest_revision_id(state.tree, config_hash(cfg), counter)


def check_revision_id(
    repo: Repository, state: LatestState, cfg: FunctionConfig, revision_id: str | None
) -> None:
    """``--revision-id`` on a change of $LATEST: ``PreconditionFailedException`` when it is
    not $LATEST's current RevisionId."""
    if revision_id is None:
        return
    current = current_revision_id(repo, state, cfg)
    if revision_id != current:
        raise PreconditionFailedException(revision_id, current)


def config_hash(config: FunctionConfig) -> str:
    return sha256_small(config.canonical_bytes()).hexdigest()


def get_version_record(repo: Repository, number: str) -> VersionRecord | None:
    raw = repo.meta.get(VERSIONS, number)
    return VersionRecord.from_json(raw) if raw is not None else None


def get_alias_state(repo: Repository, name: str) -> AliasState | None:
    raw = repo.meta.get(ALIASES, name)
    return AliasState.from_json(raw) if raw is not None else None


def newest_version(repo: Repository) -> VersionRecord | None:
    """The published version with the greatest number: usually the one the version counter
    names (two indexed lookups, both remembered by the refs memo); when that one was
    deleted, the greatest that is left (which sorts every version)."""
    counter = repo.meta.counter(VERSION_COUNTER)
    if counter:
        raw = repo.meta.get(VERSIONS, str(counter))
        if raw is not None:
            return VersionRecord.from_json(raw)
    last = repo.meta.last(VERSIONS)
    return VersionRecord.from_json(last[1]) if last else None


class Resolved(Value):
    """What a qualifier names: ``version`` is ``$LATEST`` or a number; ``record`` is set for
    a published version; ``alias`` when the qualifier was an alias name."""

    version: str
    record: VersionRecord | None
    alias: AliasState | None = None


def resolve(repo: Repository, qualifier: str | None) -> Resolved:
    if qualifier is None or qualifier == LATEST:
        return Resolved(LATEST, None)
    validate_qualifier(qualifier)
    if is_version_number(qualifier):
        rec = get_version_record(repo, str(int(qualifier)))
        if rec is None or str(int(qualifier)) != qualifier:
            raise ResourceNotFoundException(f"Function not found: {repo.arns.function(qualifier)}")
        return Resolved(rec.version, rec)
    alias = get_alias_state(repo, qualifier)
    if alias is None:
        raise ResourceNotFoundException(f"Function not found: {repo.arns.function(qualifier)}")
    if alias.version == LATEST:
        return Resolved(LATEST, None, alias)
    rec = get_version_record(repo, alias.version)
    if rec is None:  # an invariant broken by hand: say so rather than crash
        raise ResourceNotFoundException(f"Function not found: {repo.arns.function(alias.version)}")
    return Resolved(rec.version, rec, alias)


def latest_configuration(
    repo: Repository, state: LatestState, arn_qualifier: str | None, counter: int | None = None
) -> FunctionConfiguration:
    cfg = repo.function.config
    return function_configuration(
        repo.arns,
        arn_qualifier=arn_qualifier,
        version=LATEST,
        config=cfg,
        description=cfg.description,
        code_sha256=state.code_sha256,
        code_size=state.code_size,
        last_modified=aws_time(state.last_modified_ns),
        revision_id=current_revision_id(repo, state, cfg, counter),
    )


def aliases_by_version(repo: Repository) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for _name, raw in repo.meta.items(ALIASES):
        a = AliasState.from_json(raw)
        out.setdefault(a.version, []).append(a.name)
        for v in a.weights:
            out.setdefault(v, []).append(a.name)
    return out


#: service/deploy.py's records; while one is in progress its target version is its k2.
DEPLOYMENTS = "deployments"


def aliases_of(repo: Repository, version: str) -> list[str]:
    return repo.meta.find(ALIASES, version)


# --- operations -----------------------------------------------------------------------


def _given(**fields: Any) -> dict[str, Any]:
    """The configuration fields a caller gave (None: not given, keep what is there)."""
    return {key: value for key, value in fields.items() if value is not None}


def init_function(
    directory: StrPath,
    settings: Settings,
    *,
    name: str | None = None,
    runtime: str | None = None,
    handler: str | None = None,
    memory_size: int | None = None,
    timeout: int | None = None,
    description: str | None = None,
    environment: dict[str, str] | None = None,
) -> tuple[Repository, FunctionConfiguration]:
    """Create ``.lambdaver/`` and ``lambdaver.toml`` in ``directory`` (``init``).

    An existing ``lambdaver.toml`` (code checked out of git, say) is adopted, with the
    options given here taking precedence (``environment`` replaces its variables).
    Everything is validated before anything is written; the repository itself appears in
    one rename.
    """
    from pathlib import Path  # init only: pathlib is kept off the start-up path

    directory = Path(directory).absolute()
    toml_path = directory / FUNCTION_FILE
    existing = read_function_file(toml_path) if toml_path.exists() else None
    fn_name = name or (existing.name if existing else directory.name)
    if (directory / DOT).exists():
        raise ResourceConflictException(f"Function already exist: {fn_name}")
    validate_function_name(fn_name)
    if runtime is None and existing is None:
        from lambdaver.service.handlers import detect_runtime

        runtime = detect_runtime(directory)
    base = existing.config if existing else FunctionConfig(runtime=runtime or default_runtime())
    changes = _given(
        runtime=runtime,
        handler=handler,
        memory_size=memory_size,
        timeout=timeout,
        description=description,
        environment=environment,
    )
    config = base.with_changes(**changes)
    config.validate()
    if directory.exists() and not directory.is_dir():
        raise InvalidParameterValueException(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    _remove_deleted_repositories(directory)
    from lambdaver.service.repository import IGNORE_FILE, ignore_rules
    from lambdaver.storage.fileutil import atomic_write

    ignore_path = directory / IGNORE_FILE
    if not ignore_path.exists() and not ignore_path.is_symlink():
        atomic_write(ignore_path, DEFAULT_IGNORE.encode())
    rules = ignore_rules()
    rules.load(directory)
    from lambdaver.runtime import runtime_family

    family = runtime_family(config.runtime)  # python, nodejs, provided, ...
    has_python = family == "python" and _has_python_file(directory, rules)
    if handler is None and existing is None and (has_python or family == "nodejs"):
        from lambdaver.service.handlers import detect_handler

        found = detect_handler(directory, config.runtime)
        if found is not None:
            config = config.with_changes(handler=found)
    module = (config.handler or DEFAULT_HANDLER).rpartition(".")[0].replace(".", "/") or "app"
    starter, text = None, ""
    if family == "python" and not has_python:
        starter, text = directory / f"{module}.py", STARTER_APP
    elif family == "nodejs" and not any(
        (directory / f"{module}{ext}").exists() for ext in ("", ".js", ".mjs", ".cjs")
    ):
        starter, text = directory / f"{module}.mjs", STARTER_NODE
    elif family == "provided" and not (directory / "bootstrap").exists():
        starter, text = directory / "bootstrap", STARTER_BOOTSTRAP
    if starter is not None:
        starter.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(starter, text.encode())
        if starter.name == "bootstrap":
            os.chmod(starter, 0o755)  # noqa: S103 - a bootstrap must be executable
    if existing is None or existing.name != fn_name or existing.config != config:
        write_function_file(toml_path, fn_name, config)
    repo = Repository.create(directory, settings)
    state = repo.scan_latest()
    return repo, latest_configuration(repo, state, None)


def _remove_deleted_repositories(directory: Path) -> None:
    """What an interrupted ``delete-function`` (or ``init``) left: a repository under a
    temporary name (``..lambdaver.tmp.PID.RANDOM``).  There is no repository here, so
    nothing uses it unless its process is still running (a concurrent init); left, it
    would become code."""
    import shutil

    from lambdaver.storage.fileutil import tmp_target

    for name in os.listdir(directory):
        if not name.startswith("." + DOT) or tmp_target(name) != DOT:
            continue
        pid = int(name.split(".tmp.")[1].split(".")[0])
        if pid != os.getpid():
            try:
                os.kill(pid, 0)
                continue  # its process is alive: perhaps an init in progress
            except ProcessLookupError:
                pass
            except OSError:
                continue
        shutil.rmtree(directory / name, ignore_errors=True)


def delete_function(repo: Repository) -> None:
    """``delete-function`` without a qualifier: the function's repository (every version,
    alias and log) and its ``lambdaver.toml`` go; its code files, ``.lambdaverignore`` and
    everything else in its directory stay.

    Under the lock, ``.lambdaver`` is first renamed to a temporary name (one rename: from
    then on there is no function here, whatever happens next), then ``lambdaver.toml`` is
    removed, then the renamed repository.  An interruption after the rename leaves a
    hidden ``..lambdaver.tmp.*`` directory, which ``init`` removes."""
    import shutil

    from lambdaver.storage.fileutil import fsync_dir, tmp_name

    with repo.lock.held():
        trash = tmp_name(repo.dot)
        os.rename(repo.dot, trash)
        fsync_dir(repo.root)
        try:
            os.unlink(repo.function_file_path)
        except FileNotFoundError:
            pass
        fsync_dir(repo.root)
    shutil.rmtree(trash, ignore_errors=True)


def _has_python_file(directory: Path, rules: IgnoreRules) -> bool:
    """Does the code (what the ignore rules keep: not a ``.venv/``) hold a Python file?"""
    for dirpath, dirnames, filenames in os.walk(directory):
        rel = os.path.relpath(dirpath, directory).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        top = not prefix
        dirnames[:] = [d for d in dirnames if not rules.skip(prefix + d, d, True, top)]
        if any(f.endswith(".py") and not rules.skip(prefix + f, f, False, top) for f in filenames):
            return True
    return False


def get_configuration(repo: Repository, qualifier: str | None) -> FunctionConfiguration:
    """``get-function-configuration``: $LATEST, a version, or an alias's primary version."""
    res = resolve(repo, qualifier)
    if res.record is None:
        return latest_configuration(repo, repo.scan_latest(), qualifier)
    return version_configuration(repo.arns, res.record, qualifier)


def update_configuration(
    repo: Repository,
    *,
    runtime: str | None = None,
    handler: str | None = None,
    memory_size: int | None = None,
    timeout: int | None = None,
    description: str | None = None,
    environment: dict[str, str] | None = None,
    set_env: dict[str, str] | None = None,
    unset_env: list[str] | None = None,
    revision_id: str | None = None,
) -> FunctionConfiguration:
    """``update-function-configuration``: change $LATEST's configuration (``lambdaver.toml``).

    ``environment`` replaces all variables (aws's ``--environment``); ``set_env`` and
    ``unset_env`` edit them one by one.
    """
    with repo.lock.held():
        fn = repo.reload_function()
        cfg = fn.config
        state = repo.scan_latest() if revision_id is not None else None
        if state is not None:
            check_revision_id(repo, state, cfg, revision_id)
        changes = _given(
            runtime=runtime,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=description,
        )
        env = dict(cfg.environment) if cfg.environment is not None else None
        if environment is not None:
            env = dict(environment)
        if set_env:
            env = {**(env or {}), **set_env}
        if unset_env:
            env = dict(env or {})
            for key in unset_env:
                env.pop(key, None)
        if environment is not None or set_env or unset_env:
            changes["environment"] = env
        new = cfg.with_changes(**changes)
        new.validate()
        validate_environment(new.environment)
        if new != cfg:
            write_function_file(repo.function_file_path, fn.name, new)
        repo.reload_function()
        return latest_configuration(repo, state or repo.scan_latest(), None)


def status(repo: Repository) -> Status:
    """What in $LATEST differs from the newest version (files and configuration)."""
    from lambdaver.model.results import FileChanges, Status

    state = repo.scan_latest()
    cfg = repo.function.config
    newest = newest_version(repo)
    if newest is None:
        files = FileChanges([m[0] for m in state.manifest], [], [])
        configuration = {k: [None, v] for k, v in _config_fields(cfg).items()}
        return Status(True, None, files, configuration)
    files = compare_manifests(read_manifest(repo, newest.tree), state.manifest)
    configuration = compare_configs(newest.config, cfg)
    changed = bool(files.paths()) or bool(configuration)
    return Status(changed, newest.version, files, configuration)


def compare_manifests(old: list[ManifestEntry], new: list[ManifestEntry]) -> FileChanges:
    """Paths added, modified (content or mode) and deleted from ``old`` to ``new``, each
    sorted (shared by status and diff)."""
    from lambdaver.model.results import FileChanges

    before = {m[0]: m for m in old}
    after = {m[0]: m for m in new}
    added: list[str] = []
    modified: list[str] = []
    for path, m in after.items():
        if path not in before:
            added.append(path)
        elif (before[path][1], before[path][3]) != (m[1], m[3]):
            modified.append(path)
    return FileChanges(added, modified, [p for p in before if p not in after])


def compare_configs(old: FunctionConfig, new: FunctionConfig) -> dict[str, list[Any]]:
    """``{AwsField: [old, new]}`` for every configuration field that differs, sorted."""
    a_fields, b_fields = _config_fields(old), _config_fields(new)
    out: dict[str, list[Any]] = {}
    for key in sorted(set(a_fields) | set(b_fields)):
        a, b = a_fields.get(key), b_fields.get(key)
        if a != b:
            out[key] = [a, b]
    return out


def _config_fields(cfg: FunctionConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Runtime": cfg.runtime,
        "Handler": cfg.handler,
        "MemorySize": cfg.memory_size,
        "Timeout": cfg.timeout,
        "Description": cfg.description,
    }
    if cfg.environment is not None:
        out["Environment"] = {"Variables": dict(cfg.environment)}
    return out


def read_manifest(repo: Repository, tree: str) -> list[tuple[str, str, int, str]]:
    return manifest_from_bytes(repo.store.get_bytes(tree, compressed=True))


def publish(
    repo: Repository,
    *,
    description: str | None = None,
    code_sha256: str | None = None,
    revision_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    view: ViewRenderer | None = None,
) -> FunctionConfiguration:
    """``publish-version``: freeze $LATEST as version N+1.

    When neither code nor configuration differs from the newest version, that version is
    returned and nothing is written.  ``revision_id`` and ``code_sha256`` make it
    conditional; a refused publish writes nothing (so those two are checked on a hash-only
    pass before any blob is stored).  Write order: blobs, tree, configuration and version
    record objects, one filesystem sync, then the counter and the version ref in one
    transaction.  ``view``: how a front end renders the new version's configuration, stored
    beside its ref for that front end's listing (None: no view is stored).
    """
    if description is not None and len(description) > 256:
        from lambdaver.errors import ValidationException

        raise ValidationException.constraint(
            description, "description", "Member must have length less than or equal to 256"
        )
    with repo.lock.held():
        mark = repo.store.checkpoint()
        attempt: dict[str, str] = {}  # the version ref it is about to commit
        try:
            result, created = _publish_locked(
                repo, description, code_sha256, revision_id, progress, attempt, view
            )
        except BaseException:
            # Refused, failed or interrupted before the version ref was committed: remove
            # the objects this publish created, so the repository is as it was.  A Ctrl-C
            # can also land just after the commit (even inside the call that made it):
            # then the version stands and its objects must stay.
            if not _committed(repo, attempt):
                repo.store.discard_since(mark)
            raise
        if created:
            repo.save_caches()
        return result


def _committed(repo: Repository, attempt: dict[str, str]) -> bool:
    """Whether the version ref ``attempt`` describes was committed; True when that cannot
    be read (objects left behind are only space, which gc reclaims; objects removed under a
    committed version would be a corrupt repository)."""
    if not attempt:
        return False
    try:
        return repo.meta.get(VERSIONS, attempt["number"]) == attempt["record"]
    except Exception:  # noqa: BLE001 - whatever the failure, keep the objects
        return True


def _publish_locked(
    repo: Repository,
    description: str | None,
    code_sha256: str | None,
    revision_id: str | None,
    progress: Callable[[int, int], None] | None,
    attempt: dict[str, str],
    view: ViewRenderer | None,
) -> tuple[FunctionConfiguration, bool]:
    """publish's work under the lock, up to and including the commit of the version ref;
    also says whether a version was created.  ``attempt`` receives the version number and
    record just before the commit."""
    cfg = repo.reload_function().config
    chash = config_hash(cfg)
    counter = repo.meta.counter(VERSION_COUNTER)
    conditional = revision_id is not None or code_sha256 is not None
    state = repo.scan_latest(store=not conditional, progress=progress)
    check_revision_id(repo, state, cfg, revision_id)
    if code_sha256 is not None and code_sha256 != state.code_sha256:
        raise InvalidParameterValueException(
            f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
            f"({state.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
        )
    newest = get_version_record(repo, str(counter)) if counter else None
    if newest is not None and newest.tree == state.tree and newest.config_hash == chash:
        return version_configuration(repo.arns, newest), False
    if conditional:
        state = repo.scan_latest(store=True, progress=progress)
    number = str(counter + 1)
    store = repo.store
    store.put_bytes(state.tree_bytes, compress=True)
    store.put_bytes(cfg.canonical_bytes(), compress=True)
    rec = VersionRecord(
        version=number,
        tree=state.tree,
        config_hash=chash,
        config=cfg,
        description=cfg.description if description is None else description,
        code_sha256=state.code_sha256,
        code_size=state.code_size,
        last_modified=repo.now(),
        revision_id=repo.new_id(),
    )
    record_json = rec.to_json()
    store.put_bytes(record_json.encode(), compress=True)
    store.sync()
    attempt.update(number=number, record=record_json)
    result = version_configuration(repo.arns, rec)
    rendered = view(result) if view is not None else None
    try:
        with repo.meta.transaction():
            repo.meta.bump_counter(VERSION_COUNTER, counter)
            repo.meta.add_if_new(VERSIONS, number, record_json, view=rendered)
    except Conflict as exc:  # impossible while we hold the lock; kept as a guard
        raise ResourceConflictException(
            "The version number was claimed by another publish; try again"
        ) from exc
    return result, True


def list_versions(repo: Repository) -> VersionList:
    """``list-versions-by-function``: $LATEST first, then ascending, each with its aliases."""
    from lambdaver.model.results import VersionList

    latest = latest_configuration(repo, repo.scan_latest(), LATEST)
    by_version = aliases_by_version(repo)
    versions = [latest.replace(aliases=by_version.get(LATEST, []))]
    arns = repo.arns
    for number, raw in repo.meta.items(VERSIONS, numeric=True):
        item = version_configuration(arns, VersionRecord.from_json(raw))
        versions.append(item.replace(aliases=by_version.get(number, [])))
    return VersionList(versions)


# --- what a front end's fast listing is made of ---------------------------------------------


def version_counter(repo: Repository) -> int:
    return repo.meta.counter(VERSION_COUNTER)


def change_key(repo: Repository) -> tuple[int, int, int] | None:
    """What says the metadata is unchanged (SQLite's file change counter, FORMAT.md
    "Derived data"), read without SQLite; None when there is none (WAL mode)."""
    return repo.meta.change_key()


class PublishedRows(Value):
    """The published versions as one consistent state of the metadata holds them: its
    change key (None: none), the version counter, the aliases by version, and each version
    as ``(number, record JSON, stored view or None)``, ascending."""

    key: tuple[int, int, int] | None
    counter: int
    aliases: dict[str, list[str]]
    rows: list[tuple[str, str, str | None]]


def published_rows(repo: Repository) -> PublishedRows:
    """:class:`PublishedRows`, read inside one SQLite read transaction."""
    with repo.meta.snapshot() as key:
        counter = repo.meta.counter(VERSION_COUNTER)
        by_version = aliases_by_version(repo)
        rows = repo.meta.views(VERSIONS)
    return PublishedRows(key, counter, by_version, rows)


def row_configuration(repo: Repository, record_json: str) -> FunctionConfiguration:
    """The configuration of a version from its record's JSON (a row of
    :func:`published_rows`)."""
    return version_configuration(repo.arns, VersionRecord.from_json(record_json))


def show_version(repo: Repository, qualifier: str) -> FunctionConfiguration:
    """``versions show Q``: the configuration, the aliases that use it, and its files."""
    res = resolve(repo, qualifier)
    if res.record is None:
        state = repo.scan_latest()
        out = latest_configuration(repo, state, qualifier)
        manifest = state.manifest
    else:
        out = version_configuration(repo.arns, res.record, qualifier)
        manifest = read_manifest(repo, res.record.tree)
    return out.replace(aliases=aliases_of(repo, res.version), files=manifest)


def delete_version(repo: Repository, qualifier: str) -> None:
    """``delete-function --qualifier N``: delete one version, never one an alias uses."""
    if qualifier == LATEST:
        raise InvalidParameterValueException(
            "$LATEST version cannot be deleted without deleting the function."
        )
    validate_qualifier(qualifier)
    if not is_version_number(qualifier):
        raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
    number = str(int(qualifier))
    with repo.lock.held():
        if repo.meta.get(VERSIONS, number) is None:
            return
        with repo.meta.transaction():
            users = aliases_of(repo, number)
            if users:
                raise ResourceConflictException(
                    "Unable to delete version because the following aliases reference it: "
                    f"[{', '.join(users)}]"
                )
            for deployment in repo.meta.find(DEPLOYMENTS, number):  # active ones only
                raise ResourceConflictException(
                    f"Unable to delete version because deployment {deployment} is moving an "
                    f"alias to it; wait for it to end or run 'lambdaver deploy stop {deployment}'"
                )
            repo.meta.remove(VERSIONS, number)
            from lambdaver.service.qualified import forget_qualifier

            forget_qualifier(repo, number)  # its policy goes with it
