"""Crash safety, the fast subset: a few rounds of benchmarks/crash_harness.py (SIGKILL of
publish, config set, alias update, rollback, promote, versions delete and, where they
exist, prune and gc at random points, then every invariant checked).  The full run (200
rounds and more) is ``python benchmarks/crash_harness.py --rounds 200 --seed S``; see
docs/reliability.md."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import Fn, run_cli, snapshot

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_harness.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_harness", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


crash_harness = _load()


@pytest.mark.parametrize("seed", [20261122, 424242])
def test_random_kills_break_no_invariant(tmp_path: Path, seed: int) -> None:
    summary = crash_harness.run(7, seed, max_delay_ms=150.0, keep=tmp_path / "w", verbose=False)
    assert summary.violations == [], summary.as_json()
    assert summary.rounds == 7
    assert summary.invocations_checked >= 1


def test_a_publish_killed_at_every_stage_leaves_a_sound_repository(tmp_path: Path) -> None:
    """Deterministic sweep: the same publish killed after 0, 20, ... 160 ms."""
    import random

    h = crash_harness.Harness(tmp_path / "w", verbose=False)
    h.setup(5)
    kills = 0
    for i, delay in enumerate(range(0, 180, 20)):
        h.summary.rounds += 1
        h.mutate(random.Random(i))
        out = h.run_killed(["publish"], delay / 1000)
        kills += out.rc == -signal.SIGKILL
        assert out.rc in (0, -signal.SIGKILL), out
        if out.rc == 0:
            h.record_publish(out_json(out.stdout), h.gen)
        h.check("publish", None, out, None)
    h.final_check()
    assert h.summary.violations == [], h.summary.as_json()
    assert kills >= 1


def out_json(text: str) -> object:
    import json

    return json.loads(text)


# --- deterministic kill points: the child kills itself at a chosen call -----------------------
#
# The child replaces ``module:attr`` by a wrapper that SIGKILLs the process on the n-th call
# (before the call; with ``after``, once the call has returned), then runs the command.

KILLER = """
import importlib, os, signal, sys
target, n, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
module_name, _, attr = target.partition(":")
owner_name, _, leaf = attr.rpartition(".")
owner = importlib.import_module(module_name)
for part in filter(None, owner_name.split(".")):
    owner = getattr(owner, part)
real = getattr(owner, leaf)
calls = [0]
def wrapper(*a, **k):
    calls[0] += 1
    if calls[0] == n and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = real(*a, **k)
    if calls[0] == n and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(owner, leaf, wrapper)
from lambdaver.cli.main import main
main(sys.argv[4:])
"""


def killed_at(root: Path, target: str, n: int, *args: str, when: str = "before") -> int:
    import subprocess

    p = subprocess.run(
        [sys.executable, "-c", KILLER, target, str(n), when, "-C", str(root), "--output",
         "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert p.returncode in (0, -signal.SIGKILL), p.stderr
    return p.returncode


def fsck_problems(fn: Fn) -> list[Any]:
    r = fn("fsck")
    assert r.exit_code in (0, 1), r
    return list(r.json["Problems"])


@pytest.fixture
def fn(tmp_path: Path) -> Fn:
    root = tmp_path / "hello"
    root.mkdir()
    (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
    for i in range(20):
        (root / "lib").mkdir(exist_ok=True)
        (root / "lib" / f"m{i}.py").write_text(f"X = {i}\n" * 200)
    assert run_cli("init", str(root)).exit_code == 0
    return Fn(root)


@pytest.mark.parametrize(
    ("target", "when"),
    [
        ("lambdaver.storage.objects:os.replace", "before"),  # mid-way through the blobs
        ("lambdaver.storage.objects:ObjectStore.sync", "before"),
        ("lambdaver.storage.objects:ObjectStore.sync", "after"),
        ("lambdaver.storage.metadata:MetaStore.add_if_new", "after"),  # inside the transaction
        ("lambdaver.service.repository:Repository.save_caches", "before"),
        ("lambdaver.storage.derived:StatCache.refresh", "before"),
    ],
)
def test_publish_killed_at_each_step_of_the_write_order(fn: Fn, target: str, when: str) -> None:
    assert fn.publish() == "1"
    fn.write("app.py", "def handler(event, context):\n    return 2\n")
    for i in range(20):
        fn.write(f"lib/m{i}.py", f"Y = {i}\n" * 300)
    n = 7 if target.endswith("os.replace") else 1
    rc = killed_at(fn.root, target, n, "publish")
    assert rc == -signal.SIGKILL
    assert fsck_problems(fn) == []
    listed = [v["Version"] for v in fn.ok("versions", "list")["Versions"][1:]]
    assert listed in (["1"], ["1", "2"])  # the version is there whole, or not at all
    for v in listed:
        r = fn("invoke", "--qualifier", v)
        assert (r.exit_code, r.stdout.strip()) == (0, v), r
    assert fn.ok("publish")["Version"] == "2"  # and the next publish carries on
    r = fn("invoke", "--qualifier", "2")
    assert (r.exit_code, r.stdout.strip()) == (0, "2"), r


@pytest.mark.parametrize(
    ("target", "n", "when"),
    [
        ("lambdaver.service.lifecycle:_prune_index", 1, "before"),
        ("lambdaver.service.lifecycle:_prune_index", 1, "after"),
        ("lambdaver.storage.fileutil:Sweeper.remove", 2, "after"),  # some objects gone
    ],
)
def test_gc_killed_at_each_step_leaves_the_next_publish_whole(
    fn: Fn, target: str, n: int, when: str
) -> None:
    """Regression: gc used to delete blobs before pruning the stat cache of them; killed in
    between, the cache vouched for deleted blobs and the next publish skipped storing them,
    publishing a version whose blobs were missing (found by the crash harness)."""
    import time

    assert fn.publish() == "1"
    fn.write("lib/m0.py", "Z = 0\n" * 500)  # content only version 2 will have
    time.sleep(1.1)  # the stat cache only remembers files changed over a second ago
    assert fn.publish() == "2"  # remembers lib/m0.py -> its blob
    fn.ok("versions", "delete", "2")  # that blob is now unreferenced by any version
    fn.write("lib/m1.py", "W = 1\n")
    rc = killed_at(fn.root, target, n, "gc", "--grace", "0", when=when)
    assert rc == -signal.SIGKILL
    assert fsck_problems(fn) == []
    assert fn.ok("publish")["Version"] == "3"
    r = fn("invoke", "--qualifier", "3")
    assert (r.exit_code, r.stdout.strip()) == (0, "1"), r
    assert fsck_problems(fn) == []


def test_update_function_code_killed_mid_way_leaves_old_or_new_code(fn: Fn, tmp_path: Path) -> None:
    """``update-function-code --publish`` replaces $LATEST and publishes "in one atomic
    step" (as AWS does): killed after k of its files are in place, $LATEST must hold the
    old code or the new code, not a mixture."""
    import zipfile

    assert fn.publish() == "1"
    old = fn.ok("config", "show")["CodeSha256"]
    z = tmp_path / "new.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 2\n")
        for i in range(20):
            zf.writestr(f"lib/m{i}.py", f"NEW = {i}\n")
    args = ("update-function-code", "--zip-file", f"fileb://{z}", "--publish")
    rc = killed_at(fn.root, "lambdaver.service.pending:_place", 5, *args, when="after")
    assert rc == -signal.SIGKILL
    # a read is refused (and writes nothing); the next command that changes the function
    # completes the interrupted step (and its publish) before it runs
    refused = fn("config", "show")
    assert refused.exit_code == 253, refused
    assert "(IncompleteOperation)" in refused.stderr and "lambdaver recover" in refused.stderr
    assert (fn.root / ".lambdaver" / "pending-apply.json").exists()
    fn.ok("alias", "create", "live", "--version", "1")
    latest = fn.ok("config", "show")["CodeSha256"]
    assert not (fn.root / ".lambdaver" / "pending-apply.json").exists()
    assert fsck_problems(fn) == []
    r = fn(*args)  # the same command, run to the end, gives the new code
    assert r.exit_code == 0, r
    new = r.json["CodeSha256"]
    assert new != old
    assert latest in (old, new)
    assert latest == new  # killed after the intent was written: rolled forward
    versions = [v["Version"] for v in fn.ok("versions", "list")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]  # ... and published once, as the step says


# --- Ctrl-C (SIGINT) ------------------------------------------------------------------------


def _interrupt_publishes(fn: Fn, delays_ms: list[int]) -> list[tuple[int, str]]:
    """Publish fresh code and send SIGINT after each delay; ``(status, stderr)`` of each."""
    import os
    import subprocess
    import time

    script = Path(sys.executable).parent / "lambdaver"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "lambdaver"]
    out = []
    for i, delay in enumerate(delays_ms):
        fn.write("app.py", f"def handler(event, context):\n    return {i + 2}\n")
        (fn.root / "data.bin").write_bytes(os.urandom(2_000_000))
        p = subprocess.Popen(
            [*cmd, "-C", str(fn.root), "--output", "json", "publish"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay / 1000)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        out.append((p.returncode, err))
    return out


def test_ctrl_c_never_leaves_anything_half_written(fn: Fn) -> None:
    assert fn.publish() == "1"
    results = _interrupt_publishes(fn, [30, 45, 60, 75, 90, 105, 120])
    assert fsck_problems(fn) == []
    assert list((fn.root / ".lambdaver" / "tmp").iterdir()) == []  # no temporaries left
    listed = [v["Version"] for v in fn.ok("versions", "list")["Versions"][1:]]
    for v in listed:
        r = fn("invoke", "--qualifier", v)
        assert r.exit_code == 0, r
    interrupted = [err for rc, err in results if rc == 130]
    assert all(err.strip().endswith("Interrupted.") for err in interrupted)


INTERRUPT_AT_IMPORT = """
import os, runpy, signal, sys

TARGET = sys.argv[1]

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == TARGET:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as lambdaver loads this module
        return None

sys.meta_path.insert(0, Interrupt())
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


# gc: the first import of entry.main(); atexit: imported as the process ends, once the
# command is done (a Ctrl-C there ends the process at once too).
@pytest.mark.parametrize("module", ["gc", "click", "lambdaver.cli.app", "atexit"])
def test_ctrl_c_while_loading_exits_130_without_a_traceback(fn: Fn, module: str) -> None:
    import subprocess

    script = Path(sys.executable).parent / "lambdaver"
    if not script.exists():
        pytest.skip("needs the installed lambdaver script")
    p = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT_IMPORT, module, str(script), "-C", str(fn.root),
         "versions", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert "Traceback" not in p.stderr, p.stderr
    assert (p.returncode, p.stderr) == (130, "Interrupted.\n")


def code_and_metadata(root: Path) -> dict[str, bytes]:
    """Every file but derived data (which a successful read may write)."""
    return {p: b for p, b in snapshot(root).items() if not p.startswith(".lambdaver/cache/")}


def test_checkout_killed_mid_way_is_completed_by_the_next_command(fn: Fn) -> None:
    """checkout writes an intent before it touches $LATEST; killed after two of its
    renames, the next command finishes it: code and lambdaver.toml are version 1's."""
    fn.write("app.py", "def handler(event, context):\n    return 1\n")
    for i in range(8):
        fn.write(f"lib/m{i}.py", f"V = {i}\n")
    assert fn.publish() == "1"
    v1 = fn.ok("versions", "show", "1")
    fn.write("app.py", "def handler(event, context):\n    return 2\n")
    for i in range(8):
        fn.write(f"lib/m{i}.py", f"V = {i * 10}\n")
    fn.ok("config", "set", "--timeout", "9")
    assert fn.publish() == "2"
    rc = killed_at(fn.root, "lambdaver.service.pending:_place", 2, "checkout", "1", when="after")
    assert rc == -signal.SIGKILL
    assert (fn.root / ".lambdaver" / "pending-apply.json").exists()
    before = code_and_metadata(fn.root)
    for read in (("versions", "show", "$LATEST"), ("status",), ("versions", "list")):
        r = fn(*read)  # a read never writes: it refuses to show a half-applied $LATEST
        assert r.exit_code == 253 and "(IncompleteOperation)" in r.stderr, (read, r)
    assert fn.ok("versions", "show", "1")["CodeSha256"] == v1["CodeSha256"]  # published: fine
    assert code_and_metadata(fn.root) == before
    assert fn.ok("recover") == {"Completed": True}
    assert fn.ok("recover") == {"Completed": False}  # nothing left to do
    shown = fn.ok("versions", "show", "$LATEST")
    assert not (fn.root / ".lambdaver" / "pending-apply.json").exists()
    assert shown["CodeSha256"] == v1["CodeSha256"]
    assert shown["Timeout"] == v1["Timeout"] == 3
    assert fn("diff", "1").exit_code == 0  # $LATEST is exactly version 1
    assert list((fn.root / ".lambdaver" / "tmp").iterdir()) == []
    assert fsck_problems(fn) == []


@pytest.mark.parametrize("files", [1, 100])  # loose objects, and a pack
def test_ctrl_c_just_after_the_commit_keeps_the_version_whole(
    fn: Fn, monkeypatch: pytest.MonkeyPatch, files: int
) -> None:
    """A Ctrl-C can land after SQLite committed the version ref but before publish
    returned (even inside the call that committed): the version then stands, so the objects
    it names must not be undone with the rest of an interrupted publish."""
    import contextlib

    from lambdaver.storage.metadata import MetaStore

    assert fn.publish() == "1"
    for i in range(files):
        fn.write(f"lib/m{i}.py", f"X = {i}\n")
    real = MetaStore.transaction

    @contextlib.contextmanager
    def interrupted_after_commit(self: MetaStore):  # type: ignore[no-untyped-def]
        with real(self) as conn:
            yield conn
        raise KeyboardInterrupt

    monkeypatch.setattr(MetaStore, "transaction", interrupted_after_commit)
    r = fn("publish")
    monkeypatch.undo()
    assert r.exit_code == 130, r
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "1", "2"]
    assert fsck_problems(fn) == []
    assert fn("invoke", "--qualifier", "2").exit_code == 0
