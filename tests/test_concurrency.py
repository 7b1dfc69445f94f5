"""Concurrency: many lambdaver processes on one repository at once.

Every child imports lambdaver first and then waits for a common start time, so the
commands themselves (not the interpreters' start-up) overlap.

* N processes publishing distinct content (``update-function-code --publish``, which
  replaces $LATEST and publishes under one lock) yield N versions with unique numbers,
  each holding its own code; N plain ``publish`` of unchanged code yield one version.
* Racing alias updates: with one ``--revision-id``, exactly one wins and the others are
  refused with PreconditionFailedException; without it, every update is applied and
  recorded (no lost history entry).  Racing ``alias create`` of one name: one winner.
* ``publish`` during ``gc``; ``invoke`` of one version during ``versions delete`` (and
  ``versions prune``) of another.
* Many concurrent invocations append to the journal: every entry is there, whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import Fn, run_cli

CHILD = """
import sys, time
from lambdaver.cli.main import main
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
main(sys.argv[2:])
"""


def race(fn: Fn, commands: Sequence[Sequence[str]], lead: float = 1.0) -> list[Any]:
    """Run every command in its own process, all starting at the same moment; return
    ``(exit status, stdout, stderr)`` for each, in order."""
    start = time.time() + lead
    env = {**os.environ, "NO_COLOR": "1"}
    prefix = [sys.executable, "-c", CHILD, str(start), "-C", str(fn.root), "--output", "json"]
    procs = [
        subprocess.Popen(
            [*prefix, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for cmd in commands
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


def handler(i: int) -> str:
    return f"def handler(event, context):\n    return {i}\n"


def invoke(fn: Fn, qualifier: str) -> Any:
    r = fn("invoke", "--qualifier", qualifier, "--payload", "{}")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def history(fn: Fn, name: str) -> list[dict[str, Any]]:
    return list(fn.ok("alias", "history", name)["History"])


def has_verb(*verb: str) -> bool:
    return run_cli(*verb, "--help").exit_code == 0


# --- publish ----------------------------------------------------------------------------


def test_concurrent_publishes_of_distinct_code_get_unique_numbers(fn: Fn, tmp_path: Path) -> None:
    n = 8
    assert fn.publish() == "1"
    zips = []
    for i in range(n):
        z = tmp_path / f"code{i}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("app.py", handler(100 + i))
            zf.writestr(f"lib/mod{i}.py", f"X = {i}\n" * 1000)
        zips.append(z)
    results = race(
        fn, [["update-function-code", "--zip-file", f"fileb://{z}", "--publish"] for z in zips]
    )
    numbers = []
    for i, (rc, stdout, stderr) in enumerate(results):
        assert rc == 0, (i, stderr)
        numbers.append((json.loads(stdout)["Version"], i))
    assert sorted(v for v, _ in numbers) == [str(k) for k in range(2, n + 2)]
    listed = [v["Version"] for v in fn.ok("versions", "list")["Versions"][1:]]
    assert listed == [str(k) for k in range(1, n + 2)]
    for version, i in numbers:  # each number holds the code its publish was given
        assert invoke(fn, version) == 100 + i
        files = {f["Path"] for f in fn.ok("versions", "show", version)["Files"]}
        assert files == {"app.py", f"lib/mod{i}.py"}


def test_concurrent_publishes_of_the_same_code_make_one_version(fn: Fn) -> None:
    fn.write("app.py", handler(7))
    results = race(fn, [["publish"]] * 6)
    assert all(rc == 0 for rc, _, _ in results), results
    assert {json.loads(out)["Version"] for _, out, _ in results} == {"1"}
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "1"]


# --- aliases ----------------------------------------------------------------------------


@pytest.fixture
def fn4(fn: Fn) -> Fn:
    for i in range(1, 5):
        assert fn.publish(**{"app.py": handler(i)}) == str(i)
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def test_racing_conditional_updates_have_exactly_one_winner(fn4: Fn) -> None:
    for round_ in range(3):
        rev = fn4.ok("alias", "get", "prod")["RevisionId"]
        before = history(fn4, "prod")
        results = race(
            fn4,
            [["alias", "update", "prod", "--version", str(v), "--revision-id", rev]
             for v in (1, 2, 3, 4) * 2],
            lead=0.6,
        )  # fmt: skip
        winners = [json.loads(out) for rc, out, _ in results if rc == 0]
        losers = [err for rc, _, err in results if rc != 0]
        assert len(winners) == 1, (round_, results)
        assert all(rc in (0, 254) for rc, _, _ in results), results
        for err in losers:  # (a line saying it waited for the lock may come first)
            assert err.splitlines()[-1].startswith(
                "An error occurred (PreconditionFailedException) when calling the "
                "UpdateAlias operation: The Revision Id provided does not match"
            ), err
        after = history(fn4, "prod")
        assert fn4.ok("alias", "get", "prod") == winners[0]
        if winners[0]["FunctionVersion"] == before[0]["FunctionVersion"]:
            assert after == before  # it changed nothing: a new RevisionId, no entry
            continue
        assert len(after) == len(before) + 1
        assert after[1:] == before
        assert after[0]["RevisionId"] == winners[0]["RevisionId"]


def test_racing_unconditional_updates_lose_no_history_entry(fn4: Fn) -> None:
    n = 10
    before = history(fn4, "prod")
    results = race(
        fn4,
        [["alias", "update", "prod", "--version", str(1 + i % 4), "--description", f"p{i}"]
         for i in range(n)],
    )  # fmt: skip
    assert all(rc == 0 for rc, _, _ in results), results
    printed = [json.loads(out) for _, out, _ in results]
    after = history(fn4, "prod")
    assert len(after) == len(before) + n
    assert after[n:] == before
    new = after[:n]
    assert sorted(h["RevisionId"] for h in new) == sorted(p["RevisionId"] for p in printed)
    for h in new:  # each entry is exactly what its command printed
        p = next(p for p in printed if p["RevisionId"] == h["RevisionId"])
        assert {k: v for k, v in h.items() if k not in ("ChangedAt", "Change")} == p
    assert fn4.ok("alias", "get", "prod") == next(
        p for p in printed if p["RevisionId"] == after[0]["RevisionId"]
    )
    # the undo stack is intact: rolling back walks the entries back in order
    for expected in after[1:4]:
        got = fn4.ok("rollback", "prod")
        assert (got["FunctionVersion"], got["Description"]) == (
            expected["FunctionVersion"],
            expected["Description"],
        )


def test_racing_creates_of_one_alias_have_one_winner(fn4: Fn) -> None:
    results = race(
        fn4, [["alias", "create", "beta", "--version", str(v)] for v in (1, 2, 3, 4, 1, 2)]
    )
    ok = [json.loads(out) for rc, out, _ in results if rc == 0]
    assert len(ok) == 1, results
    for rc, _, err in results:
        if rc != 0:
            assert rc == 254
            assert "(ResourceConflictException)" in err
            assert "Alias already exists" in err
    assert len(history(fn4, "beta")) == 1
    assert fn4.ok("alias", "get", "beta") == ok[0]


def test_concurrent_rollbacks_and_promotions_keep_history_consistent(fn4: Fn) -> None:
    fn4.ok("alias", "create", "dev", "--version", "4")
    for v in (2, 3, 4):
        fn4.ok("alias", "update", "prod", "--version", str(v))
    before = history(fn4, "prod")
    # (distinct descriptions: a promotion that changed nothing would add no entry)
    cmds = [["rollback", "prod"]] * 3 + [
        ["promote", "dev", "prod", "--description", f"p{i}"] for i in range(2)
    ]
    results = race(fn4, cmds)
    assert all(rc in (0, 254) for rc, _, _ in results), results
    done = sum(rc == 0 for rc, _, _ in results)
    after = history(fn4, "prod")
    assert len(after) == len(before) + done
    assert after[done:] == before
    state = fn4.ok("alias", "get", "prod")
    head = {k: v for k, v in after[0].items() if k not in ("ChangedAt", "Change")}
    head.pop("PromotedFrom", None)
    assert head == state


# --- publish during gc, invoke during delete/prune ---------------------------------------


@pytest.mark.skipif(not has_verb("gc"), reason="this lambdaver has no gc yet")
def test_publish_during_gc_loses_nothing(fn: Fn) -> None:
    for i in range(1, 4):
        fn.publish(**{"app.py": handler(i), "big.bin": "x" * 200_000 + str(i)})
    fn.ok("alias", "create", "prod", "--version", "3")
    fn.ok("versions", "delete", "1")
    cmds: list[list[str]] = []
    for i in range(4, 8):
        code = ["update-function-code", "--zip-file", f"fileb://{zip_of(fn, i)}", "--publish"]
        cmds += [["gc", "--grace", "0"], code]
    results = race(fn, cmds)
    assert all(rc == 0 for rc, _, _ in results), results
    published = {
        json.loads(out)["Version"]: 4 + k // 2
        for k, (_, out, _) in enumerate(results)
        if cmds[k][0] != "gc"
    }
    assert sorted(published, key=int) == ["4", "5", "6", "7"]
    assert run_cli("-C", str(fn.root), "gc", "--grace", "0").exit_code == 0
    for v, i in {"2": 2, "3": 3, **published}.items():  # each version runs its own code
        assert invoke(fn, v) == i
    r = fn("fsck")
    assert r.exit_code == 0, r


def zip_of(fn: Fn, i: int) -> Path:
    z = fn.root.parent / f"code{i}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("app.py", handler(i))
        zf.writestr("big.bin", "y" * 300_000 + str(i))
    return z


def test_invoke_of_one_version_during_delete_of_others(fn: Fn) -> None:
    for i in range(1, 7):
        fn.publish(**{"app.py": handler(i)})
    cmds: list[list[str]] = []
    for v in (2, 3, 4, 5):
        cmds += [["invoke", "--qualifier", "6", "--payload", "{}"], ["versions", "delete", str(v)]]
    results = race(fn, cmds)
    for (rc, out, err), cmd in zip(results, cmds, strict=True):
        assert rc == 0, (cmd, err)
        if cmd[0] == "invoke":
            assert json.loads(out) == 6
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "1", "6"]
    assert invoke(fn, "1") == 1


@pytest.mark.skipif(not has_verb("versions", "prune"), reason="no versions prune yet")
def test_invoke_of_one_version_during_prune_of_others(fn: Fn) -> None:
    for i in range(1, 7):
        fn.publish(**{"app.py": handler(i)})
    fn.ok("alias", "create", "prod", "--version", "2")
    cmds = [
        ["invoke", "--qualifier", "prod", "--payload", "{}"],
        ["invoke", "--qualifier", "6", "--payload", "{}"],
    ] * 3 + [["versions", "prune", "--keep", "1", "--history-depth", "0"]]
    results = race(fn, cmds)
    for (rc, out, err), cmd in zip(results, cmds, strict=True):
        assert rc == 0, (cmd, err)
        if cmd[0] == "invoke":
            assert json.loads(out) == (2 if cmd[2] == "prod" else 6)
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "2", "6"]
    assert fn.ok("gc", "--grace", "0")["ObjectsRemoved"] > 0
    assert (invoke(fn, "prod"), invoke(fn, "6")) == (2, 6)


# --- the journal ---------------------------------------------------------------------------


def test_concurrent_invocations_all_reach_the_journal(fn: Fn) -> None:
    procs, per = 8, 4
    fn.publish(**{"app.py": "def handler(event, context):\n    print('x' * 3000)\n    return 1\n"})
    script = (
        "from lambdaver.cli.main import main\n"
        "import sys, time\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
        f"for _ in range({per}):\n"
        "    try:\n"
        "        main(sys.argv[2:])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
    )
    start = time.time() + 1.0
    prefix = [sys.executable, "-c", script, str(start), "-C", str(fn.root), "--output", "json"]
    children = [
        subprocess.Popen(
            [*prefix, "invoke", "--qualifier", "1", "--payload", f'{{"p": {i}}}', os.devnull],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]
    for c in children:
        _, err = c.communicate(timeout=120)
        assert c.returncode == 0, err
    lines = (fn.root / ".lambdaver" / "journal" / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) == procs * per
    entries = [json.loads(line) for line in lines]  # every line whole
    assert len({e["RequestId"] for e in entries}) == procs * per
    assert all(e["ExecutedVersion"] == "1" and "x" * 3000 in e["Log"] for e in entries)
    assert len(fn.ok("logs", "--qualifier", "1")["Events"]) == procs * per
    assert fn.ok("metrics")["Metrics"][0]["Invocations"] == procs * per


def test_journal_appends_and_rotations_from_many_processes_lose_nothing(tmp_path: Path) -> None:
    """The journal itself, at a scale invoke cannot reach in a test: 8 processes append
    60 entries each while the journal rotates every few entries (nothing may be lost
    while fewer than ``keep`` rotated files exist)."""
    procs, per = 8, 60
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lambdaver.runtime.journal import Journal\n"
        "j = Journal(Path(sys.argv[2]), max_bytes=4000, keep=500)\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
        f"for k in range({per}):\n"
        "    j.append({'p': int(sys.argv[3]), 'k': k, 'pad': 'x' * 200})\n"
    )
    start = time.time() + 1.0
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(start), str(tmp_path / "journal"), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]
    for c in children:
        _, err = c.communicate(timeout=120)
        assert c.returncode == 0, err
    from lambdaver.runtime.journal import Journal

    entries = list(Journal(tmp_path / "journal", max_bytes=4000, keep=500).entries())
    assert sorted((e["p"], e["k"]) for e in entries) == [
        (p, k) for p in range(procs) for k in range(per)
    ]
    for p in range(procs):  # each process's entries in its own order
        assert [e["k"] for e in entries if e["p"] == p] == list(range(per))
    rotated = list((tmp_path / "journal").glob("journal.jsonl.*"))
    assert len(rotated) > 10
