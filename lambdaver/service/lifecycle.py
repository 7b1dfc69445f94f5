"""The life cycle of versions and of the store: prune, gc, fsck.

- :func:`prune` deletes old versions (refs only), never one that is pinned: used by an alias
  (primary or weighted), reached by an alias's recent history, among the ``keep`` newest,
  younger than ``older_than_days``, or the newest of all.  One lock hold; the plan is made
  again inside the one transaction that deletes, so what it deletes was unpinned at commit.
- :func:`gc` deletes the objects no version references and the leftovers of interrupted
  commands, when they are older than a grace period; it prunes the stat cache of the blobs
  it deletes (FORMAT.md invariant 7).  It holds the repository lock, so it never runs
  beside a publish.
- :func:`fsck` re-hashes every object and checks invariants 2-7 of FORMAT.md.  Read-only.

See docs/lifecycle.md for the choices and docs/FORMAT.md ("Life cycle") for how they keep
the invariants.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lambdaver.errors import LambdaverError
from lambdaver.model.names import LATEST
from lambdaver.model.policy import GRACE_SECONDS, HISTORY_DEPTH
from lambdaver.model.records import AliasState, VersionRecord
from lambdaver.model.results import FsckReport, GcReport, Problem, PruneReport
from lambdaver.model.routing import validate_routing
from lambdaver.service.function_file import FUNCTION_FILE
from lambdaver.service.repository import (
    ALIASES,
    DOT,
    VERSION_COUNTER,
    VERSIONS,
    Repository,
    code_sha256_of,
)
from lambdaver.storage.derived import RUN, StatCache
from lambdaver.storage.errors import CorruptData, StorageError
from lambdaver.storage.fileutil import Sweeper, sweep_temporaries
from lambdaver.storage.hashing import sha256
from lambdaver.storage.materialize import sweep as sweep_materialized
from lambdaver.storage.pack import Pack
from lambdaver.storage.tree import manifest_from_bytes

__all__ = ["GRACE_SECONDS", "HISTORY_DEPTH", "fsck", "gc", "prune"]

_AWS_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"


# --- prune ---------------------------------------------------------------------------------


def _alias_states(repo: Repository) -> list[AliasState]:
    return [AliasState.from_json(raw) for _name, raw in repo.meta.items(ALIASES)]


def _history_states(repo: Repository, name: str, depth: int) -> list[AliasState]:
    """The alias's last ``depth`` states, the current one included: its ``depth`` newest
    log entries, and the newest entry with its ``depth - 1`` ancestors (the states that
    successive rollbacks restore, which may be older than the newest entries)."""
    if depth <= 0:
        return []
    log = repo.meta.log(ALIASES, name)
    chosen = {e.id: e for e in log[:depth]}
    by_id = {e.id: e for e in log}
    entry = log[0] if log else None
    for _ in range(depth - 1):
        if entry is None or entry.parent is None:
            break
        entry = by_id.get(entry.parent) or repo.meta.log_entry(entry.parent)
        if entry is not None:
            chosen[entry.id] = entry
    states = []
    for e in chosen.values():
        if e.value is None:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):
            states.append(AliasState.from_json(e.value))
    return states


def _pins(
    repo: Repository,
    versions: list[tuple[str, str]],
    *,
    keep: int,
    older_than_days: float | None,
    history_depth: int,
) -> dict[str, list[str]]:
    """What pins each version (``versions``: ``(number, record)`` in ascending order):
    ``{number: [reasons]}``, an empty list when nothing does."""
    numbers = [n for n, _raw in versions]
    pins: dict[str, list[str]] = {n: [] for n in numbers}
    aliases = _alias_states(repo)
    for a in aliases:
        if a.version in pins:
            pins[a.version].append(f"alias {a.name}")
        for v in a.weights:
            if v in pins:
                pins[v].append(f"alias {a.name} (weighted)")
    for a in aliases:
        current = {a.version, *a.weights}
        reached: set[str] = set()
        for state in _history_states(repo, a.name, history_depth):
            reached.update({state.version, *state.weights})
        for v in sorted(reached - current, key=_numeric):
            if v in pins:
                pins[v].append(f"history of {a.name}")
    from lambdaver.service.functions import DEPLOYMENTS

    for n in numbers:
        for deployment in repo.meta.find(DEPLOYMENTS, n):  # deployments in progress only
            pins[n].append(f"deployment {deployment}")
    for n in numbers[-keep:] if keep > 0 else []:
        pins[n].append(f"--keep {keep}")
    if older_than_days is not None:
        cutoff_ns = repo.clock() - int(older_than_days * 86_400 * 1e9)
        for n, raw in versions:
            if _time_ns(VersionRecord.from_json(raw).last_modified) > cutoff_ns:
                pins[n].append(f"newer than {_days(older_than_days)} days")
    if numbers:
        pins[numbers[-1]].append("newest")
    return pins


def _numeric(v: str) -> tuple[int, str]:
    return (int(v), v) if v.isdigit() else (-1, v)


def _days(days: float) -> str:
    return str(int(days)) if float(days).is_integer() else repr(float(days))


def _time_ns(aws: str) -> int:
    return int(datetime.strptime(aws, _AWS_TIME).timestamp() * 1e9)


def _plan(
    repo: Repository, *, keep: int, older_than_days: float | None, history_depth: int
) -> tuple[list[str], dict[str, list[str]]]:
    versions = repo.meta.items(VERSIONS, numeric=True)
    pins = _pins(
        repo, versions, keep=keep, older_than_days=older_than_days, history_depth=history_depth
    )
    return [n for n, p in pins.items() if not p], {n: p for n, p in pins.items() if p}


def prune(
    repo: Repository,
    *,
    keep: int,
    older_than_days: float | None = None,
    history_depth: int = HISTORY_DEPTH,
    dry_run: bool = False,
) -> PruneReport:
    """``versions prune``: delete the versions nothing pins.  Deletes refs only; the objects
    they alone used are collected by :func:`gc`."""

    def plan() -> tuple[list[str], dict[str, list[str]]]:
        return _plan(repo, keep=keep, older_than_days=older_than_days, history_depth=history_depth)

    if dry_run:
        doomed, kept = plan()
    else:
        with repo.lock.held():
            doomed, kept = plan()
            if doomed:
                with repo.meta.transaction():
                    doomed, kept = plan()  # again, inside the transaction that deletes
                    from lambdaver.service.qualified import forget_qualifier

                    for number in doomed:
                        repo.meta.remove(VERSIONS, number)
                        forget_qualifier(repo, number)  # its policy goes with it
    return PruneReport(doomed, kept)


# --- gc ------------------------------------------------------------------------------------


def referenced(repo: Repository) -> tuple[set[str], set[str]]:
    """``(objects, trees)``: every object some version references (record, tree,
    configuration, and every blob of every tree), and the version trees."""
    objects: set[str] = set()
    trees: set[str] = set()
    for _number, raw in repo.meta.items(VERSIONS, numeric=True):
        rec = VersionRecord.from_json(raw)
        objects.update({sha256(raw.encode()).hexdigest(), rec.tree, rec.config_hash})
        if rec.tree not in trees:
            trees.add(rec.tree)
            for _path, _mode, _size, digest in manifest_from_bytes(
                repo.store.get_bytes(rec.tree, compressed=True)
            ):
                objects.add(digest)
    return objects, trees


def gc(repo: Repository, *, grace: float = GRACE_SECONDS, dry_run: bool = False) -> GcReport:
    """Delete unreferenced objects and leftovers older than ``grace`` seconds."""
    with repo.lock.held():
        keep, trees = referenced(repo)
        latest = _latest_roots(repo)
        if latest is not None:
            keep |= latest[0]
            trees.add(latest[1])
        sweeper = Sweeper(grace, dry_run=dry_run)
        store = repo.store
        garbage = store.garbage(keep, sweeper)
        if garbage and not dry_run:
            # Invariant 7, and crash-safe: the stat cache forgets the blobs first, then
            # they go.  A crash in between costs a re-hash, never a missing blob.
            _prune_index(repo.dot, garbage.digests())
        store.collect(garbage, sweeper)
        store.sweep_temporaries(sweeper)
        sweep_temporaries(repo.root, sweeper, targets=(DOT, FUNCTION_FILE))
        sweep_temporaries(repo.dot, sweeper)
        sweep_temporaries(Path(repo.dot) / "cache", sweeper)
        sweep_materialized(repo.derived_file(RUN), trees, sweeper)
    return GcReport(sweeper.objects, sweeper.freed, sweeper.temporaries)


def _latest_roots(repo: Repository) -> tuple[set[str], str] | None:
    """``(blobs, tree)`` of ``$LATEST`` as the working directory is now, or None when it
    cannot be scanned.  gc keeps them, so that an invoke of ``$LATEST`` that found its blobs
    already stored (and so did not rewrite them) never loses them, nor the directory it
    runs from, to a gc that starts between its scan and its run."""
    try:
        state = repo.scan_latest()
    except (LambdaverError, StorageError, OSError):
        return None
    return {m[3] for m in state.manifest}, state.tree


def _prune_index(dot: str, deleted: set[str]) -> None:
    """Invariant 7: drop the stat cache's entries that name a deleted blob (the cache
    would otherwise vouch for a blob that is gone, and publish would skip storing it)."""
    StatCache(Path(dot) / "index").forget(deleted)


# --- fsck ----------------------------------------------------------------------------------

_COMPRESSED = ("tree", "configuration", "record")


@dataclass
class _Fsck:
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0

    def add(self, kind: str, message: str, **where: str) -> None:
        self.problems.append(Problem(kind, message, where))


def _check_packs(
    repo: Repository, f: _Fsck, roles: dict[str, dict[str, list[str]]], on_disk: set[str]
) -> None:
    """Every pack's index is whole and named by its hash, and every blob in it is re-hashed
    (invariant 1).  A pack without an index is a leftover, as a temporary is."""
    store = repo.store
    for path, is_index in store.pack_files():
        rel = os.path.relpath(path, repo.dot)
        if not is_index:
            f.add("StrayFile", f"{rel} is not part of a pack", Path=rel)
            continue
        try:
            pack = Pack(path)
        except CorruptData as exc:
            f.add("CorruptPack", exc.message, Path=rel)
            continue
        if not pack.name_ok():
            f.add("CorruptPack", f"Pack index {rel} fails its hash check", Path=rel)
        for digest, offset, size in pack.entries():
            on_disk.add(digest)
            f.checked += 1
            if not store.verify_packed(pack, digest, offset, size):
                f.add(
                    "CorruptObject",
                    f"Object {digest} fails its hash check (in pack {pack.name})"
                    + _users(roles, digest),
                    Object=digest,
                )


def fsck(repo: Repository) -> FsckReport:
    """Check every object and the invariants of FORMAT.md; change nothing."""
    repo.keep_untouched()
    f = _Fsck()
    meta = repo.meta
    try:
        rows = meta.conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in rows] != [("ok",)]:
            f.add("Metadata", "; ".join(str(r[0]) for r in rows), Path="meta.sqlite")
        versions = meta.items(VERSIONS, numeric=True)
        alias_rows = meta.items(ALIASES)
        counter = meta.counter(VERSION_COUNTER)
    except sqlite3.DatabaseError as exc:
        f.add("Metadata", f"meta.sqlite cannot be read: {exc}", Path="meta.sqlite")
        return FsckReport(f.problems, 0)

    # Which objects the versions reference, and as what (invariant 2).
    # digest -> {"tree of", "blob of app.py in", ...: [the versions that refer to it]}
    roles: dict[str, dict[str, list[str]]] = {}
    records: dict[str, VersionRecord] = {}
    for number, raw in versions:
        try:
            rec = VersionRecord.from_json(raw)
        except (ValueError, KeyError, TypeError) as exc:
            f.add(
                "BadVersionRecord",
                f"Version {number}'s record cannot be read: {exc}",
                Version=number,
            )
            continue
        records[number] = rec
        for problem in _record_problems(number, rec):
            f.add("BadVersionRecord", problem, Version=number)
        record_obj = sha256(raw.encode()).hexdigest()
        for role, obj in (
            ("record", record_obj),
            ("tree", rec.tree),
            ("configuration", rec.config_hash),
        ):
            roles.setdefault(obj, {}).setdefault(f"{role} of", []).append(number)
    store = repo.store
    manifests: dict[str, list[tuple[str, str, int, str]]] = {}
    for number, rec in records.items():
        if rec.tree not in manifests:
            try:
                manifests[rec.tree] = manifest_from_bytes(
                    store.get_bytes(rec.tree, compressed=True)
                )
            except (CorruptData, ValueError, KeyError, TypeError):
                continue  # reported below, as a missing or corrupt object
        manifest = manifests[rec.tree]
        for path, _mode, _size, blob in manifest:
            roles.setdefault(blob, {}).setdefault(f"blob of {path} in", []).append(number)
        if sum(m[2] for m in manifest) != rec.code_size:
            f.add(
                "BadVersionRecord",
                f"Version {number}'s CodeSize differs from its tree",
                Version=number,
            )
        try:
            config = store.get_bytes(rec.config_hash, compressed=True)
        except CorruptData:
            continue  # reported below, as a missing or corrupt object
        if config != rec.config.canonical_bytes():
            f.add(
                "BadVersionRecord",
                f"Version {number}'s configuration differs from its configuration record",
                Version=number,
            )

    # Every object on disk, re-hashed (invariant 1).
    on_disk: set[str] = set()
    for digest, obj_path in store.loose_objects():
        rel = os.path.relpath(obj_path, repo.dot)
        if digest is None:
            f.add("StrayFile", f"{rel} is not an object", Path=rel)
            continue
        on_disk.add(digest)
        f.checked += 1
        kinds = {label.split()[0] for label in roles.get(digest, {})}
        if kinds & set(_COMPRESSED):
            ok = store.verify_compressed(digest)
        elif kinds:
            ok = store.verify_blob(digest)
        else:  # unreferenced: either form will do
            ok = store.verify_blob(digest) or store.verify_compressed(digest)
        if not ok:
            f.add(
                "CorruptObject",
                f"Object {digest} fails its hash check" + _users(roles, digest),
                Object=digest,
            )
    _check_packs(repo, f, roles, on_disk)
    for digest in sorted(set(roles) - on_disk):
        f.add("MissingObject", f"Object {digest} is missing" + _users(roles, digest), Object=digest)

    # The version counter (invariant 3).
    highest = max((int(n) for n in records), default=0)
    if counter < highest:
        f.add(
            "Counter",
            f"The version counter is {counter} but version {highest} exists",
            Version=str(highest),
        )

    # Aliases (invariants 4 and 6).
    for name, raw in alias_rows:
        _check_alias(repo, f, name, raw, set(records))

    # Deployments in progress and their index (docs/deploy.md).
    _check_deployments(repo, f, set(records), dict(alias_rows))

    # The stat cache (invariant 7).
    index = StatCache(Path(repo.dot) / "index")
    for path, entry in sorted(index.entries.items()):
        digest = str(entry[-1])
        if digest not in on_disk:
            f.add(
                "StaleIndex",
                f"The stat cache names blob {digest} ({path}), which is not stored",
                Object=digest,
            )
    return FsckReport(f.problems, f.checked)


def _users(roles: dict[str, dict[str, list[str]]], digest: str) -> str:
    """`` (blob of app.py in versions 1, 2; ...)``: what refers to an object."""
    uses = list(roles.get(digest, {}).items())
    if not uses:
        return " (referenced by no version)"
    shown = "; ".join(
        f"{label} version {vs[0]}" if len(vs) == 1 else f"{label} versions {', '.join(vs)}"
        for label, vs in uses[:3]
    )
    more = f"; and {len(uses) - 3} more" if len(uses) > 3 else ""
    return f" ({shown}{more})"


def _record_problems(number: str, rec: VersionRecord) -> list[str]:
    out = []
    if rec.version != number:
        out.append(f"Ref versions/{number} holds the record of version {rec.version}")
    if rec.code_sha256 != code_sha256_of(rec.tree):
        out.append(f"Version {number}'s CodeSha256 does not match its tree")
    if rec.config_hash != sha256(rec.config.canonical_bytes()).hexdigest():
        out.append(f"Version {number}'s config_hash does not match its configuration")
    return out


def _check_alias(repo: Repository, f: _Fsck, name: str, raw: str, versions: set[str]) -> None:
    try:
        state = AliasState.from_json(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        f.add("BadAlias", f"Alias {name}'s state cannot be read: {exc}", Alias=name)
        return
    if state.name != name:
        f.add("BadAlias", f"Ref aliases/{name} holds the state of alias {state.name}", Alias=name)
    for role, version in [("points at", state.version)] + [
        ("sends weighted traffic to", v) for v in state.weights
    ]:
        if version != LATEST and version not in versions:
            f.add(
                "DanglingAlias",
                f"Alias {name} {role} version {version}, which does not exist",
                Alias=name,
            )
    try:
        validate_routing(state.version, state.weights)
    except LambdaverError as exc:
        f.add("BadRouting", f"Alias {name}'s routing breaks AWS's rules: {exc}", Alias=name)
    for version in (state.version, *state.weights):
        if name not in repo.meta.find(ALIASES, version):
            f.add(
                "AliasIndex",
                f"Alias {name} is not indexed under version {version} (versions delete "
                "would not see it)",
                Alias=name,
            )
    head = repo.meta.log_head(ALIASES, name)
    if head is None or head.value is None:
        f.add("AliasHistory", f"Alias {name} has no history entry", Alias=name)
        return
    try:
        logged = json.loads(head.value)
        logged.pop("promoted_from", None)
        current = json.loads(raw)
        # an update that changed nothing rotated the RevisionId without an entry
        same = {**logged, "revision_id": None} == {**current, "revision_id": None}
    except ValueError:
        same = False
    if not same:
        f.add(
            "AliasHistory",
            f"Alias {name}'s state differs from its newest history entry ({head.id})",
            Alias=name,
        )


# --- deployments -------------------------------------------------------------------------

_DEPLOYMENT_STATUSES = ("InProgress", "Succeeded", "Failed", "Stopped")
#: key -> the type its value must have (checked on every record).
_DEPLOYMENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "DeploymentId": str,
    "AliasName": str,
    "CurrentVersion": str,
    "TargetVersion": str,
    "Status": str,
    "Steps": list,
    "Plan": list,
    "LastRevisionId": str,
}


def _deployment_problems(name: str, raw: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The record of deployment ``name`` and what is wrong with its form (a record that
    cannot be used at all comes back as None)."""
    try:
        record = json.loads(raw)
    except ValueError as exc:
        return None, [f"Deployment {name}'s record is not JSON: {exc}"]
    if not isinstance(record, dict):
        return None, [f"Deployment {name}'s record is not a JSON object"]
    out = []
    for key, kind in _DEPLOYMENT_KEYS.items():
        if key not in record:
            out.append(f"Deployment {name}'s record has no {key}")
        elif not isinstance(record[key], kind):
            out.append(f"Deployment {name}'s record has a {key} of the wrong type")
    if out:
        return None, out
    if record["DeploymentId"] != name:
        out.append(
            f"Ref deployments/{name} holds the record of deployment {record['DeploymentId']}"
        )
    if record["Status"] not in _DEPLOYMENT_STATUSES:
        out.append(f"Deployment {name}'s Status {record['Status']!r} is not one of "
                   + ", ".join(_DEPLOYMENT_STATUSES))  # fmt: skip
    for step in record["Steps"]:
        if not isinstance(step, dict) or not isinstance(step.get("Weight"), (int, float)):
            out.append(f"Deployment {name}'s record has a step without a Weight: {step!r}")
            return None, out
    return record, out


def _routing_text(version: str, weights: dict[str, float]) -> str:
    return f"version {version}" + "".join(f" with {v} weighted {w:g}" for v, w in weights.items())


def _check_deployments(
    repo: Repository, f: _Fsck, versions: set[str], aliases: dict[str, str]
) -> None:
    """Every deployment record can be read; one in progress has its alias and its target,
    is indexed under both (one per alias), and its alias is in a state the deployment
    passed through or in the one before it; an ended one is indexed under nothing."""
    from lambdaver.service.functions import DEPLOYMENTS

    rows = repo.meta.conn.execute(
        "SELECT name, value, k1, k2 FROM refs WHERE ns=? ORDER BY name", (DEPLOYMENTS,)
    ).fetchall()
    active: dict[str, list[str]] = {}
    for row_name, raw, k1, k2 in rows:
        name = str(row_name)
        record, problems = _deployment_problems(name, str(raw))
        for problem in problems:
            f.add("BadDeployment", problem, Deployment=name)
        if record is None:
            continue
        alias, target = str(record["AliasName"]), str(record["TargetVersion"])
        status = record["Status"]
        if status != "InProgress":
            if k1 is not None or k2 is not None:
                f.add(
                    "DeploymentIndex",
                    f"Deployment {name} has ended ({status}) but is still indexed under "
                    + " and ".join(
                        w for w, k in ((f"alias {k1}", k1), (f"version {k2}", k2)) if k is not None
                    )
                    + " (deploy would refuse the alias, versions delete the version)",
                    Deployment=name,
                )
            continue
        active.setdefault(alias, []).append(name)
        if k1 != alias:
            f.add(
                "DeploymentIndex",
                f"Deployment {name} is in progress but not indexed under alias {alias} (a "
                "second deployment of the alias would not be refused)",
                Deployment=name,
            )
        if k2 != target:
            f.add(
                "DeploymentIndex",
                f"Deployment {name} is in progress but not indexed under version {target} "
                "(versions delete would not see it)",
                Deployment=name,
            )
        if target not in versions:
            f.add(
                "DanglingDeployment",
                f"Deployment {name} is in progress towards version {target}, which does not exist",
                Deployment=name,
            )
        alias_raw = aliases.get(alias)
        if alias_raw is None:
            f.add(
                "DanglingDeployment",
                f"Deployment {name} is in progress on alias {alias}, which does not exist",
                Deployment=name,
            )
            continue
        _check_deployed_alias(f, name, record, alias_raw)
    for alias, names in sorted(active.items()):
        if len(names) > 1:
            f.add(
                "DeploymentIndex",
                f"Alias {alias} has {len(names)} deployments in progress ({', '.join(names)}); "
                "there may be one at a time",
                Alias=alias,
            )


def _check_deployed_alias(f: _Fsck, name: str, record: dict[str, Any], raw: str) -> None:
    """The alias of a deployment in progress is where the deployment's last step left it
    (its RevisionId is the one the record names) or, changed by someone else since, in
    some state the deployment passed through or the state before it."""
    try:
        state = AliasState.from_json(raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        return  # reported as BadAlias
    before, target = str(record["CurrentVersion"]), str(record["TargetVersion"])
    steps = [float(s["Weight"]) for s in record["Steps"]]
    passed: list[tuple[str, dict[str, float]]] = [(before, {})] + [
        (target, {}) if w >= 1.0 else (before, {target: w}) for w in steps
    ]  # fmt: skip
    here = (state.version, dict(state.weights))
    stop = f"; end it with 'lambdaver deploy stop {name}'"
    if state.revision_id == record["LastRevisionId"]:
        if here != passed[-1]:
            f.add(
                "DeploymentAlias",
                f"Alias {state.name} is at {_routing_text(*here)} but deployment {name}'s "
                f"last step left it at {_routing_text(*passed[-1])}",
                Deployment=name,
            )
    elif here not in passed:
        f.add(
            "DeploymentAlias",
            f"Alias {state.name} is at {_routing_text(*here)}, a state deployment {name} "
            f"(in progress, version {before} -> {target}) never set{stop}",
            Deployment=name,
        )


__all__ = ["GRACE_SECONDS", "HISTORY_DEPTH", "fsck", "gc", "prune", "referenced"]
