"""Alias operations: create, update, get, list, delete, history, rollback, promote.

An alias is a ref in the ``aliases`` namespace of the metadata store (value: an
:class:`AliasState` as JSON; ``k1`` its primary version, ``k2`` its weighted version, so
``delete_version`` and ``versions show`` find the aliases that use a version by index).

Every change (create, update, rollback, promote) appends one entry to the alias's ref log
in the same transaction that moves the ref: after a crash both are there or neither is.
Every change runs under the repository lock and re-reads the alias inside it, so two
processes never lose an update, and ``revision_id`` (AWS's optimistic concurrency) lets
exactly one of two racing conditional changes win.

The log is an undo stack.  Each entry's ``parent`` is the entry that was current before
the change, so ``rollback`` restores the state of ``head.parent`` and records an entry whose
parent is *that* entry's parent: a second rollback goes one step further back, and a change
made after a rollback can itself be rolled back.  ``rollback --to-version`` is an ordinary
forward change (its parent is the head), so it too can be undone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lambdaver.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdaver.model.names import LATEST, validate_alias_name, validate_version
from lambdaver.model.records import AliasConfiguration, AliasState
from lambdaver.model.routing import validate_routing
from lambdaver.service.functions import get_alias_state
from lambdaver.service.repository import ALIASES, VERSIONS, Repository
from lambdaver.storage import canonical_json
from lambdaver.storage.metadata import Conflict, LogEntry

if TYPE_CHECKING:
    from lambdaver.model.results import AliasHistory, AliasList, HistoryEntry

CREATE = "create"
UPDATE = "update"
ROLLBACK = "rollback"

DESCRIPTION_MAX = 256


# --- checks -----------------------------------------------------------------------------


def _validate_description(description: str | None) -> None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise ValidationException.constraint(
            description, "description", "Member must have length less than or equal to 256"
        )


def _check_version_exists(repo: Repository, version: str) -> None:
    if version != LATEST and repo.meta.get(VERSIONS, version) is None:
        raise ResourceNotFoundException(f"Function not found: {repo.arns.function(version)}")


def _check_routing(repo: Repository, primary: str, weights: Mapping[str, float]) -> None:
    """AWS's routing rules in AWS's order, then whether the weighted version exists."""
    validate_routing(primary, weights)
    for version in weights:
        _check_version_exists(repo, version)


def _check_revision(current: AliasState, revision_id: str | None) -> None:
    if revision_id is not None and revision_id != current.revision_id:
        raise PreconditionFailedException(revision_id, current.revision_id)


def _existing(repo: Repository, name: str) -> tuple[str, AliasState]:
    """The alias's raw ref value and state; UpdateAlias's "Alias not found" when missing."""
    raw = repo.meta.get(ALIASES, name)
    if raw is None:
        raise ResourceNotFoundException(f"Alias not found: {repo.arns.function(name)}")
    return raw, AliasState.from_json(raw)


# --- writing: the ref and its log entry, together ------------------------------------------


def _commit(
    repo: Repository,
    old: str | None,
    state: AliasState,
    change: str,
    parent: int | None,
    promoted_from: str | None = None,
) -> AliasConfiguration:
    """Move the ref (compare-and-swap from ``old``; ``None``: create) and append the log
    entry in one transaction.  The caller holds the repository lock.

    An update that changes nothing (same version, weights and description) still gets a
    new RevisionId, as AWS's does, but no history entry: the history records changes, so
    ``rollback`` after a repeated promote still undoes the promotion."""
    value = state.to_json()
    unchanged = (
        change == UPDATE and old is not None and _same_target(AliasState.from_json(old), state)
    )
    logged = value
    if promoted_from is not None:
        logged = canonical_json({**json.loads(value), "promoted_from": promoted_from})
    meta = repo.meta
    try:
        with meta.transaction():
            if old is None:
                meta.add_if_new(ALIASES, state.name, value, state.version, state.additional_version)
            else:
                meta.set_if_equals(
                    ALIASES, state.name, old, value, state.version, state.additional_version
                )
            if not unchanged:
                meta.log_append(ALIASES, state.name, repo.now(), change, logged, parent)
    except Conflict as exc:  # we hold the lock, so only a writer that ignores it gets here
        if old is None:
            raise ResourceConflictException(
                f"Alias already exists: {repo.arns.function(state.name)}"
            ) from exc
        raise ResourceConflictException(
            f"Alias {state.name} was changed by another process; try again"
        ) from exc
    return state.configuration(repo.arns)


def _create_hint(repo: Repository, name: str) -> str:
    """ ". Did you mean 'prod'? ..." for a promote onto an alias that does not exist."""
    import difflib

    names = [n for n, _raw in repo.meta.items(ALIASES)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f".{hint} Use --create to create alias {name}"


def _same_target(a: AliasState, b: AliasState) -> bool:
    """Whether two states route and describe alike (their RevisionIds aside)."""
    return (a.version, a.weights, a.description) == (b.version, b.weights, b.description)


def _head_id(repo: Repository, name: str) -> int | None:
    head = repo.meta.log_head(ALIASES, name)
    return head.id if head is not None else None


# --- operations ---------------------------------------------------------------------------


def create_alias(
    repo: Repository,
    name: str,
    function_version: str,
    *,
    description: str | None = None,
    weights: Mapping[str, float] | None = None,
) -> AliasConfiguration:
    """``create-alias``.  Checks, in LocalStack's order: name, version pattern,
    description, the version exists, the alias does not, then routing.

    There is no ``revision_id``: AWS's CreateAlias has none, and a create is conditional
    already (it fails when the alias exists)."""
    validate_alias_name(name)
    validate_version(function_version)
    _validate_description(description)
    with repo.lock.held():
        _check_version_exists(repo, function_version)
        if repo.meta.get(ALIASES, name) is not None:
            raise ResourceConflictException(f"Alias already exists: {repo.arns.function(name)}")
        routing = dict(weights or {})
        _check_routing(repo, function_version, routing)
        state = AliasState(name, function_version, description or "", routing, repo.new_id())
        return _commit(repo, None, state, CREATE, None)


def update_alias(
    repo: Repository,
    name: str,
    *,
    function_version: str | None = None,
    description: str | None = None,
    weights: Mapping[str, float] | None = None,
    revision_id: str | None = None,
) -> AliasConfiguration:
    """``update-alias``: changes only what it is given.  ``weights=None`` keeps the
    routing, ``{}`` clears it.  The result is validated as a whole, so moving the primary
    onto the weighted version without clearing the weights is refused as AWS refuses it.
    The RevisionId changes even when nothing else does (as in AWS)."""
    validate_alias_name(name)
    if function_version is not None:
        validate_version(function_version)
    _validate_description(description)
    with repo.lock.held():
        old, current = _existing(repo, name)
        _check_revision(current, revision_id)
        state = AliasState(
            name,
            current.version if function_version is None else function_version,
            current.description if description is None else description,
            dict(current.weights if weights is None else weights),
            repo.new_id(),
        )
        _check_version_exists(repo, state.version)
        _check_routing(repo, state.version, state.weights)
        return _commit(repo, old, state, UPDATE, _head_id(repo, name))


def get_alias(repo: Repository, name: str) -> AliasConfiguration:
    """``get-alias``."""
    validate_alias_name(name)
    state = get_alias_state(repo, name)
    if state is None:
        raise ResourceNotFoundException(f"Cannot find alias arn: {repo.arns.function(name)}")
    return state.configuration(repo.arns)


def list_aliases(repo: Repository, version: str | None = None) -> AliasList:
    """``list-aliases``, by name.  ``version`` keeps the aliases whose *primary* version
    it is (AWS's FunctionVersion filter); aliases that only weight it are not listed."""
    if version is None:
        rows = repo.meta.items(ALIASES)
    else:
        validate_version(version)
        rows = repo.meta.find_k1(ALIASES, version)
    from lambdaver.model.results import AliasList

    arns = repo.arns
    return AliasList([AliasState.from_json(raw).configuration(arns) for _name, raw in rows])


def delete_alias(repo: Repository, name: str) -> None:
    """``delete-alias``: removes the alias and its history (as git removes a deleted
    branch's reflog).  A missing alias is not an error (as in AWS).  Versions stay."""
    validate_alias_name(name)
    with repo.lock.held():
        if repo.meta.get(ALIASES, name) is None:
            return
        with repo.meta.transaction():
            repo.meta.remove(ALIASES, name)
            repo.meta.log_clear(ALIASES, name)
            from lambdaver.service.qualified import forget_qualifier

            forget_qualifier(repo, name)  # its policy and function URL go with it


def _history_entry(repo: Repository, entry: LogEntry) -> HistoryEntry:
    from lambdaver.model.results import HistoryEntry

    raw = json.loads(entry.value or "{}")
    conf = AliasState.from_json(entry.value or "{}").configuration(repo.arns)
    return HistoryEntry(
        **conf._asdict(),
        changed_at=entry.at,
        change=entry.change,
        promoted_from=raw.get("promoted_from"),
    )


def alias_history(repo: Repository, name: str) -> AliasHistory:
    """Every state the alias has had, newest first: an AliasConfiguration plus
    ``ChangedAt`` and ``Change`` (``create``, ``update``, ``rollback``), and
    ``PromotedFrom`` for a change made by ``promote``."""
    validate_alias_name(name)
    if repo.meta.get(ALIASES, name) is None:
        raise ResourceNotFoundException(f"Cannot find alias arn: {repo.arns.function(name)}")
    from lambdaver.model.results import AliasHistory

    return AliasHistory([_history_entry(repo, e) for e in repo.meta.log(ALIASES, name)])


def rollback(
    repo: Repository,
    name: str,
    *,
    to_version: str | None = None,
    revision_id: str | None = None,
) -> AliasConfiguration:
    """Undo the alias's latest change: restore the state before it exactly (version,
    weights, description; a new RevisionId).  A second rollback goes one step further
    back.  ``to_version`` instead points the alias at that version with no weights (its
    description kept).  No earlier state: ``InvalidParameterValueException``, nothing
    written.  A restored state whose versions were deleted since is refused."""
    validate_alias_name(name)
    if to_version is not None:
        validate_version(to_version)
    with repo.lock.held():
        old, current = _existing(repo, name)
        _check_revision(current, revision_id)
        head = repo.meta.log_head(ALIASES, name)
        if to_version is not None:
            state = current.replace(version=to_version, weights={}, revision_id=repo.new_id())
            parent = head.id if head is not None else None
        else:
            previous = (
                repo.meta.log_entry(head.parent)
                if head is not None and head.parent is not None
                else None
            )
            if previous is None or previous.value is None:
                raise InvalidParameterValueException(
                    f"Alias {name} has no earlier state to roll back to"
                )
            state = AliasState.from_json(previous.value).replace(revision_id=repo.new_id())
            parent = previous.parent
            _check_restorable(repo, state, previous.at)
        _check_version_exists(repo, state.version)
        _check_routing(repo, state.version, state.weights)
        return _commit(repo, old, state, ROLLBACK, parent)


def _check_restorable(repo: Repository, state: AliasState, at: str) -> None:
    """Refuse, naming what is gone, to restore a state whose versions were deleted since."""
    gone = [
        v
        for v in (state.version, *state.weights)
        if v != LATEST and repo.meta.get(VERSIONS, v) is None
    ]
    if gone:
        what = " and ".join(f"version {v}" for v in gone)
        raise ResourceNotFoundException(
            f"Cannot roll back alias {state.name}: its previous state (of {at}) uses {what}, "
            f"deleted since; point it at an existing version with "
            f"'lambdaver rollback {state.name} --to-version V'"
        )


def promote(
    repo: Repository,
    source: str,
    target: str,
    *,
    description: str | None = None,
    revision_id: str | None = None,
    create: bool = False,
) -> AliasConfiguration:
    """Point ``target`` at exactly what ``source`` points to (primary version and
    weights).  The target keeps its own description unless ``description`` is given.

    A missing target is refused (a typo must not make a new alias), with the closest
    existing names as a hint; with ``create`` it is created (recorded as ``create``).
    Otherwise this is an update (recorded as ``update``, or not at all when it changes
    nothing); either history entry carries ``PromotedFrom``.  With ``revision_id`` the
    target must exist and have that RevisionId."""
    validate_alias_name(source)
    validate_alias_name(target)
    _validate_description(description)
    if source == target:
        raise InvalidParameterValueException(f"Cannot promote alias {source} onto itself")
    with repo.lock.held():
        src = get_alias_state(repo, source)
        if src is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {repo.arns.function(source)}")
        old = repo.meta.get(ALIASES, target)
        if old is None:
            if revision_id is not None or not create:
                raise ResourceNotFoundException(
                    f"Alias not found: {repo.arns.function(target)}"
                    + ("" if revision_id is not None else _create_hint(repo, target))
                )
            kept, change, parent = description or "", CREATE, None
        else:
            current = AliasState.from_json(old)
            _check_revision(current, revision_id)
            kept = current.description if description is None else description
            change, parent = UPDATE, _head_id(repo, target)
        state = AliasState(target, src.version, kept, dict(src.weights), repo.new_id())
        _check_version_exists(repo, state.version)
        _check_routing(repo, state.version, state.weights)
        return _commit(repo, old, state, change, parent, promoted_from=source)
