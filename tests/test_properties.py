"""Property-based tests (hypothesis): random sequences of publish, alias create / update /
delete, rollback, promote, version delete (and prune, where this lambdaver has it), run
against the service layer in-process and against a small model of what the contract
promises.  After every step:

* version numbers are never reused: each new version's number is above every earlier one,
  and a number, once published, always names the same code;
* every alias points at an existing version ($LATEST or a published, undeleted one), for
  its primary and its weighted version;
* each alias is exactly the model's state, and its ref equals its newest history entry;
* ``rollback`` restores exactly the state before the change it undoes (version, weights,
  description), one step further back each time, and a refused operation changes
  nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from lambdaver.errors import ServiceError
from lambdaver.service import aliases, functions
from lambdaver.service.repository import VERSIONS, Repository
from lambdaver.service.settings import load_settings

LATEST = "$LATEST"
try:
    from lambdaver.service import lifecycle as _lifecycle

    HAS_PRUNE = hasattr(_lifecycle, "prune")
except ImportError:  # versions prune not written yet
    HAS_PRUNE = False
NAMES = st.sampled_from(["a", "b", "c"])
VERSION = st.one_of(st.integers(1, 6).map(str), st.just(LATEST))
WEIGHT = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, -0.1])
WEIGHTS = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.integers(1, 6).map(str), WEIGHT, min_size=1, max_size=2),
)
DESCRIPTION = st.one_of(st.none(), st.sampled_from(["", "live", "canary"]))


@dataclass(frozen=True)
class State:
    version: str
    weights: tuple[tuple[str, float], ...]
    description: str


@dataclass
class Entry:
    state: State
    parent: int | None  # index into the alias's entries


def state_of(conf: Any) -> State:
    """The state an AliasConfiguration (a service's record, or its AWS shape) describes."""
    if not isinstance(conf, dict):
        conf = conf.to_aws()
    weights = conf.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    return State(conf["FunctionVersion"], tuple(sorted(weights.items())), conf["Description"])


class Versioning(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="lambdaver-props-"))
        self.root = self.tmp / "fn"
        self.root.mkdir()
        (self.root / "app.py").write_text("def handler(event, context):\n    return 0\n")
        functions.init_function(self.root, load_settings())
        self.repo = Repository.discover(self.root, load_settings())
        self.code: dict[str, str] = {}  # every number ever published -> its CodeSha256
        self.live: set[str] = set()
        self.counter = 0
        self.content = 0  # what app.py holds now
        self.content_of: dict[str, int] = {}
        self.aliases: dict[str, list[Entry]] = {}  # name -> history, oldest first

    def teardown(self) -> None:
        self.repo.meta.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------

    def state(self, name: str) -> State:
        return self.aliases[name][-1].state

    def used(self) -> set[str]:
        out: set[str] = set()
        for entries in self.aliases.values():
            s = entries[-1].state
            out.add(s.version)
            out.update(v for v, _ in s.weights)
        return out

    def valid(self, s: State) -> bool:
        """Would AWS's rules (and existence) accept an alias in state ``s``?"""
        if s.version != LATEST and s.version not in self.live:
            return False
        if len(s.weights) > 1:
            return False
        for v, w in s.weights:
            if not 0.0 <= w <= 1.0 or s.version in (v, LATEST):
                return False
            if v not in self.live:
                return False
        return True

    def expect(self, label: str, ok: bool, call: Any) -> Any:
        """Run ``call``; it must succeed exactly when the model says so.  A refusal must be
        one of the aws service's errors and change nothing (checked by the invariants)."""
        try:
            result = call()
        except ServiceError as exc:
            assert not ok, f"refused unexpectedly: {exc.code}: {exc.message}"
            event(f"{label} refused: {exc.code}")
            return None
        assert ok, f"accepted unexpectedly: {result}"
        event(f"{label} accepted")
        return result

    def record(self, name: str, s: State, parent: int | None, *, new: bool = False) -> None:
        if new:
            self.aliases[name] = []
        self.aliases[name].append(Entry(s, parent))

    # --- rules -------------------------------------------------------------------------

    @initialize()
    def first_publish(self) -> None:
        self.publish(content=0)

    @rule(content=st.integers(0, 3))
    def publish(self, content: int) -> None:
        (self.root / "app.py").write_text(f"def handler(event, context):\n    return {content}\n")
        newest = str(self.counter)
        unchanged = newest in self.live and self.content_of.get(newest) == content
        result = functions.publish(self.repo).to_aws()
        version = result["Version"]
        if unchanged:
            assert version == newest
        else:
            assert int(version) == self.counter + 1, (version, self.counter)
            assert version not in self.code, f"version number {version} reused"
            self.counter += 1
            self.code[version] = result["CodeSha256"]
            self.content_of[version] = content
            self.live.add(version)
        assert self.code[version] == result["CodeSha256"]
        self.content = content

    @rule(name=NAMES, version=VERSION, weights=WEIGHTS, description=DESCRIPTION)
    def create(
        self, name: str, version: str, weights: dict[str, float] | None, description: str | None
    ) -> None:
        s = State(version, tuple(sorted((weights or {}).items())), description or "")
        ok = name not in self.aliases and self.valid(s)
        out = self.expect(
            "create",
            ok,
            lambda: aliases.create_alias(
                self.repo, name, version, description=description, weights=weights
            ),
        )
        if out is not None:
            assert state_of(out) == s
            self.record(name, s, None, new=True)

    @rule(
        name=NAMES,
        version=st.one_of(st.none(), VERSION),
        weights=WEIGHTS,
        description=DESCRIPTION,
    )
    def update(
        self,
        name: str,
        version: str | None,
        weights: dict[str, float] | None,
        description: str | None,
    ) -> None:
        ok = name in self.aliases
        s: State | None = None
        if ok:
            cur = self.state(name)
            s = State(
                cur.version if version is None else version,
                cur.weights if weights is None else tuple(sorted(weights.items())),
                cur.description if description is None else description,
            )
            ok = self.valid(s)
        out = self.expect(
            "update",
            ok,
            lambda: aliases.update_alias(
                self.repo,
                name,
                function_version=version,
                description=description,
                weights=weights,
            ),
        )
        if out is not None:
            assert s is not None
            assert state_of(out) == s
            if s != self.state(name):  # an update that changes nothing is not history
                self.record(name, s, len(self.aliases[name]) - 1)

    @rule(name=NAMES)
    def delete_alias(self, name: str) -> None:
        aliases.delete_alias(self.repo, name)
        self.aliases.pop(name, None)

    @rule(name=NAMES)
    def rollback(self, name: str) -> None:
        entries = self.aliases.get(name)
        target: Entry | None = None
        if entries is not None and entries[-1].parent is not None:
            target = entries[entries[-1].parent]
        ok = target is not None and self.valid(target.state)
        out = self.expect("rollback", ok, lambda: aliases.rollback(self.repo, name))
        if out is not None:
            assert target is not None
            assert entries is not None
            # exactly the state before the change it undoes
            assert state_of(out) == target.state
            self.record(name, target.state, target.parent)

    @rule(name=NAMES, version=VERSION)
    def rollback_to(self, name: str, version: str) -> None:
        ok = name in self.aliases
        s: State | None = None
        if ok:
            s = State(version, (), self.state(name).description)
            ok = self.valid(s)
        out = self.expect(
            "rollback --to-version",
            ok,
            lambda: aliases.rollback(self.repo, name, to_version=version),
        )
        if out is not None:
            assert s is not None
            assert state_of(out) == s
            self.record(name, s, len(self.aliases[name]) - 1)

    @rule(source=NAMES, dest=NAMES, description=DESCRIPTION, create=st.booleans())
    def promote(self, source: str, dest: str, description: str | None, create: bool) -> None:
        target = dest
        ok = source in self.aliases and source != target and (create or target in self.aliases)
        s: State | None = None
        if ok:
            src = self.state(source)
            if target in self.aliases:
                kept = self.state(target).description if description is None else description
            else:
                kept = description or ""
            s = State(src.version, src.weights, kept)
            ok = self.valid(s)
        out = self.expect(
            "promote",
            ok,
            lambda: aliases.promote(
                self.repo, source, target, description=description, create=create
            ),
        )
        if out is not None:
            assert s is not None
            assert state_of(out) == s
            if target in self.aliases:
                if s != self.state(target):  # a promote that changes nothing is not history
                    self.record(target, s, len(self.aliases[target]) - 1)
            else:
                self.record(target, s, None, new=True)

    @rule(number=st.integers(1, 6).map(str))
    def delete_version(self, number: str) -> None:
        ok = number not in self.used() or number not in self.live
        self.expect("versions delete", ok, lambda: functions.delete_version(self.repo, number))
        if ok:
            self.live.discard(number)

    @precondition(lambda self: HAS_PRUNE)
    @rule(keep=st.integers(0, 3), depth=st.integers(0, 3))
    def prune(self, keep: int, depth: int) -> None:
        """``versions prune``: deletes exactly what nothing pins (an alias, the states its
        next ``depth - 1`` rollbacks restore and its ``depth`` newest entries, the ``keep``
        newest versions, the newest of all)."""
        from lambdaver.service import lifecycle

        numbers = sorted(self.live, key=int)
        pinned = self.used() | set(numbers[-keep:] if keep else []) | set(numbers[-1:])
        for entries in self.aliases.values():
            reached = [e.state for e in entries[-depth:]] if depth else []
            idx = entries[-1].parent
            for _ in range(max(depth - 1, 0)):
                if idx is None:
                    break
                reached.append(entries[idx].state)
                idx = entries[idx].parent
            for st_ in reached:
                pinned.add(st_.version)
                pinned.update(v for v, _ in st_.weights)
        doomed = [n for n in numbers if n not in pinned]
        out = lifecycle.prune(self.repo, keep=keep, history_depth=depth).to_aws()
        assert out["Deleted"] == doomed
        event(f"prune deleted {min(len(doomed), 2)}+")
        self.live -= set(doomed)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def versions_match_the_model(self) -> None:
        stored = dict(self.repo.meta.items(VERSIONS))
        assert set(stored) == self.live
        for number in stored:
            assert (
                functions.version_configuration(
                    self.repo.arns, functions.get_version_record(self.repo, number)
                ).to_aws()["CodeSha256"]
                == self.code[number]
            )
        assert self.repo.meta.counter(functions.VERSION_COUNTER) == self.counter

    @invariant()
    def aliases_match_the_model_and_point_at_existing_versions(self) -> None:
        listed = aliases.list_aliases(self.repo).to_aws()["Aliases"]
        assert {a["Name"] for a in listed} == set(self.aliases)
        for conf in listed:
            s = state_of(conf)
            assert s == self.state(conf["Name"])
            assert s.version == LATEST or s.version in self.live
            for v, _ in s.weights:
                assert v in self.live
            history = aliases.alias_history(self.repo, conf["Name"]).to_aws()["History"]
            assert len(history) == len(self.aliases[conf["Name"]])
            head = {k: v for k, v in history[0].items() if k not in ("ChangedAt", "Change")}
            head.pop("PromotedFrom", None)
            # the newest entry is the current state; its RevisionId is the one it had when
            # it was recorded (an update that changed nothing rotated it, unrecorded)
            assert {**head, "RevisionId": None} == {**conf, "RevisionId": None}
            assert [state_of(h) for h in reversed(history)] == [
                e.state for e in self.aliases[conf["Name"]]
            ]


Versioning.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestVersioning = Versioning.TestCase


# --- rollback, focused: an alias with versions 1-3 and random changes and rollbacks ---------

STEP = st.one_of(
    st.tuples(
        st.just("update"),
        st.sampled_from(["1", "2", "3"]),
        st.one_of(st.none(), st.just({}), st.sampled_from([{"1": 0.5}, {"3": 0.1}])),
        DESCRIPTION,
    ),
    st.tuples(st.just("rollback"), st.none(), st.none(), st.none()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=10))
def test_rollback_walks_back_through_exactly_the_earlier_states(steps: list[Any]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lambdaver-rollback-"))
    try:
        root = tmp / "fn"
        root.mkdir()
        (root / "app.py").write_text("def handler(event, context):\n    return 0\n")
        functions.init_function(root, load_settings())
        repo = Repository.discover(root, load_settings())
        for i in (1, 2, 3):
            (root / "app.py").write_text(f"def handler(event, context):\n    return {i}\n")
            functions.publish(repo)
        entries = [Entry(state_of(aliases.create_alias(repo, "prod", "2")), None)]
        for kind, version, weights, description in steps:
            head = entries[-1]
            if kind == "rollback":
                if head.parent is None:
                    with pytest.raises(ServiceError):
                        aliases.rollback(repo, "prod")
                    continue
                target = entries[head.parent]
                assert state_of(aliases.rollback(repo, "prod")) == target.state
                entries.append(Entry(target.state, target.parent))
                continue
            cur = head.state
            new = State(
                version,
                cur.weights if weights is None else tuple(sorted(weights.items())),
                cur.description if description is None else description,
            )
            if any(v == new.version for v, _ in new.weights):
                with pytest.raises(ServiceError):
                    aliases.update_alias(
                        repo, "prod", function_version=version, weights=weights,
                        description=description,
                    )  # fmt: skip
                continue
            out = aliases.update_alias(
                repo, "prod", function_version=version, weights=weights, description=description
            )
            assert state_of(out) == new
            if new != cur:  # an update that changes nothing is not history
                entries.append(Entry(new, len(entries) - 1))
        # now undo everything: each rollback restores the state before, back to the start
        while entries[-1].parent is not None:
            target = entries[entries[-1].parent]
            assert state_of(aliases.rollback(repo, "prod")) == target.state
            entries.append(Entry(target.state, target.parent))
        assert entries[-1].state == entries[0].state
        with pytest.raises(ServiceError):
            aliases.rollback(repo, "prod")
        repo.meta.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
