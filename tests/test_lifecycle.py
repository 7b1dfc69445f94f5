"""versions prune, gc and fsck: the life cycle of versions and of the object store
(docs/lifecycle.md, docs/FORMAT.md "Life cycle")."""

from __future__ import annotations

import marshal
import os
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from lambdaver.storage.hashing import sha256

from conftest import LAMBDAVER_SCRIPT, Fn, run_cli

HOUR = 3600


# --- helpers ---------------------------------------------------------------------------------


def objects(fn: Fn) -> dict[str, Path]:
    """Every object file in the store, by digest (temporaries left out)."""
    out = {}
    for p in (fn.root / ".lambdaver" / "objects").glob("*/*"):
        if ".tmp." not in p.name:
            out[p.parent.name + p.name] = p
    return out


def obj_path(fn: Fn, digest: str) -> Path:
    return fn.root / ".lambdaver" / "objects" / digest[:2] / digest[2:]


def record(fn: Fn, number: str) -> dict[str, Any]:
    import json

    raw = sql(fn, "SELECT value FROM refs WHERE ns='versions' AND name=?", number)[0][0]
    out: dict[str, Any] = json.loads(raw)
    out["_object"] = sha256(raw.encode()).hexdigest()
    return out


def blobs_of(fn: Fn, number: str) -> dict[str, str]:
    """path -> blob digest of a version's tree."""
    import json

    tree = obj_path(fn, record(fn, number)["tree"]).read_bytes()
    return {p: h for p, _m, _s, h in json.loads(zlib.decompress(tree))["entries"]}


def sql(fn: Fn, statement: str, *params: Any) -> list[Any]:
    """Edit (or read) meta.sqlite behind lambdaver's back."""
    conn = sqlite3.connect(fn.root / ".lambdaver" / "meta.sqlite")
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def age(*paths: Path, seconds: float = 2 * HOUR) -> None:
    """Make files look written ``seconds`` ago (what the grace period looks at)."""
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then), follow_symlinks=False)


def age_tree(root: Path, seconds: float = 2 * HOUR) -> None:
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            age(Path(dirpath) / name, seconds=seconds)
    age(root, seconds=seconds)


def publish_n(fn: Fn, n: int) -> None:
    for i in range(1, n + 1):
        assert fn.publish(**{"app.py": f"def handler(e, c):\n    return {i}\n"}) == str(i)


def versions(fn: Fn) -> list[str]:
    return [v["Version"] for v in fn.ok("versions", "list")["Versions"]]


def kept(*pairs: tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"Version": v, "PinnedBy": p} for v, p in pairs]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``later(days)``: lambdaver's clock runs ``days`` ahead from now on (in-process)."""
    from lambdaver.service import repository

    real = repository.Repository.__init__

    def set_offset(days: float) -> None:
        def init(self: Any, root: Path, settings: Any, *args: Any, **kwargs: Any) -> None:
            real(self, root, settings, lambda: time.time_ns() + int(days * 86_400e9))

        monkeypatch.setattr(repository.Repository, "__init__", init)

    return set_offset


# --- versions prune --------------------------------------------------------------------------


def test_prune_keeps_the_n_newest_and_deletes_the_rest(fn: Fn) -> None:
    publish_n(fn, 5)
    r = fn("versions", "prune", "--keep", "2")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.json == {
        "Deleted": ["1", "2", "3"],
        "Kept": kept(("4", ["--keep 2"]), ("5", ["--keep 2", "newest"])),
    }
    assert versions(fn) == ["$LATEST", "4", "5"]
    # numbers are never reused: the next publish is 6
    assert fn.publish(**{"app.py": "# six\n"}) == "6"


def test_prune_never_deletes_the_newest_even_with_keep_0(fn: Fn) -> None:
    publish_n(fn, 3)
    assert fn.ok("versions", "prune", "--keep", "0") == {
        "Deleted": ["1", "2"],
        "Kept": kept(("3", ["newest"])),
    }
    # the newest is the highest existing number, even after the counter moved past it
    fn.ok("versions", "delete", "3")
    assert fn.ok("versions", "prune", "--keep", "0") == {"Deleted": [], "Kept": []}
    fn.publish(**{"app.py": "# 4\n"})
    assert fn.ok("versions", "prune", "--keep", "0") == {
        "Deleted": [],
        "Kept": kept(("4", ["newest"])),
    }


def test_prune_with_no_versions_deletes_nothing(fn: Fn, unchanged: Any) -> None:
    with unchanged(fn.root):
        assert fn.ok("versions", "prune", "--keep", "0") == {"Deleted": [], "Kept": []}


def test_prune_never_deletes_a_version_an_alias_uses(fn: Fn) -> None:
    publish_n(fn, 6)
    fn.ok("alias", "create", "prod", "--version", "2")
    fn.ok("alias", "create", "canary", "--version", "4", "--weight", "3=0.1")
    fn.ok("alias", "create", "dev", "--version", "$LATEST")
    r = fn("versions", "prune", "--keep", "1", "--history-depth", "0")
    assert r.json == {
        "Deleted": ["1", "5"],
        "Kept": kept(
            ("2", ["alias prod"]),
            ("3", ["alias canary (weighted)"]),
            ("4", ["alias canary"]),
            ("6", ["--keep 1", "newest"]),
        ),
    }
    assert versions(fn) == ["$LATEST", "2", "3", "4", "6"]


def test_prune_keeps_what_an_alias_s_recent_history_reaches(fn: Fn) -> None:
    publish_n(fn, 6)
    fn.ok("alias", "create", "qa", "--version", "1")
    fn.ok("alias", "update", "qa", "--version", "2")
    fn.ok("alias", "update", "qa", "--version", "3")
    fn.ok("alias", "update", "qa", "--version", "4")
    # the last 5 states (the default): 4 (current), 3, 2, 1
    assert fn.ok("versions", "prune", "--keep", "1", "--dry-run") == {
        "Deleted": ["5"],
        "Kept": kept(
            ("1", ["history of qa"]),
            ("2", ["history of qa"]),
            ("3", ["history of qa"]),
            ("4", ["alias qa"]),
            ("6", ["--keep 1", "newest"]),
        ),
    }
    # the last 2 states: 4 (current) and 3
    assert fn.ok("versions", "prune", "--keep", "1", "--history-depth", "2") == {
        "Deleted": ["1", "2", "5"],
        "Kept": kept(
            ("3", ["history of qa"]),
            ("4", ["alias qa"]),
            ("6", ["--keep 1", "newest"]),
        ),
    }
    # what was kept is what rollback needs: it steps back to 3, then refuses 2 (deleted)
    assert fn.ok("rollback", "qa")["FunctionVersion"] == "3"
    r = fn("rollback", "qa")
    assert r.exit_code == 254
    assert "(ResourceNotFoundException)" in r.stderr
    assert r.stderr.endswith(
        "uses version 2, deleted since; point it at an existing version with "
        "'lambdaver rollback qa --to-version V'\n"
    )


def test_prune_follows_the_undo_chain_beyond_the_newest_entries(fn: Fn) -> None:
    publish_n(fn, 6)
    fn.ok("alias", "create", "qa", "--version", "1")
    fn.ok("alias", "update", "qa", "--version", "2")
    fn.ok("alias", "update", "qa", "--version", "3")
    fn.ok("rollback", "qa")  # -> 2; the next rollback goes to 1, not to 3
    fn.ok("alias", "update", "qa", "--version", "4")
    # 3 states: the 3 newest entries (4, 2, 3) and the 2 states rollbacks restore (2, then 1)
    assert fn.ok("versions", "prune", "--keep", "1", "--history-depth", "3") == {
        "Deleted": ["5"],
        "Kept": kept(
            ("1", ["history of qa"]),
            ("2", ["history of qa"]),
            ("3", ["history of qa"]),
            ("4", ["alias qa"]),
            ("6", ["--keep 1", "newest"]),
        ),
    }
    assert fn.ok("versions", "prune", "--keep", "1", "--history-depth", "2") == {
        "Deleted": ["1", "3"],
        "Kept": kept(("2", ["history of qa"]), ("4", ["alias qa"]), ("6", ["--keep 1", "newest"])),
    }
    assert fn.ok("rollback", "qa")["FunctionVersion"] == "2"


def test_prune_history_pins_weighted_versions_too(fn: Fn) -> None:
    publish_n(fn, 4)
    fn.ok("alias", "create", "live", "--version", "2", "--weight", "1=0.5")
    fn.ok("alias", "update", "live", "--version", "3", "--routing-config", "{}")
    assert fn.ok("versions", "prune", "--keep", "0") == {
        "Deleted": [],
        "Kept": kept(
            ("1", ["history of live"]),
            ("2", ["history of live"]),
            ("3", ["alias live"]),
            ("4", ["newest"]),
        ),
    }


def test_prune_older_than_only_deletes_old_versions(fn: Fn, later: Any) -> None:
    publish_n(fn, 3)
    later(10)
    assert fn.ok("versions", "prune", "--keep", "0", "--older-than", "30", "--dry-run") == {
        "Deleted": [],
        "Kept": kept(
            ("1", ["newer than 30 days"]),
            ("2", ["newer than 30 days"]),
            ("3", ["newer than 30 days", "newest"]),
        ),
    }
    assert fn.ok("versions", "prune", "--keep", "1", "--older-than", "9.5") == {
        "Deleted": ["1", "2"],
        "Kept": kept(("3", ["--keep 1", "newest"])),
    }


def test_prune_older_than_and_keep_combine(fn: Fn, later: Any) -> None:
    publish_n(fn, 2)
    later(5)
    fn.publish(**{"app.py": "# 3\n"})
    fn.publish(**{"app.py": "# 4\n"})
    later(7)  # 1 and 2 are 7 days old, 3 and 4 two days old
    assert fn.ok("versions", "prune", "--keep", "1", "--older-than", "3") == {
        "Deleted": ["1", "2"],
        "Kept": kept(
            ("3", ["newer than 3 days"]),
            ("4", ["--keep 1", "newer than 3 days", "newest"]),
        ),
    }


def test_prune_dry_run_changes_nothing_and_says_the_same(fn: Fn, unchanged: Any) -> None:
    publish_n(fn, 4)
    fn.ok("alias", "create", "prod", "--version", "1")
    with unchanged(fn.root):
        dry = fn("versions", "prune", "--keep", "1", "--dry-run")
    assert dry.exit_code == 0
    real = fn("versions", "prune", "--keep", "1")
    assert real.stdout == dry.stdout
    assert real.json["Deleted"] == ["2", "3"]


def test_prune_deletes_refs_only_until_gc(fn: Fn) -> None:
    publish_n(fn, 3)
    before = set(objects(fn))
    fn.ok("versions", "prune", "--keep", "1")
    assert set(objects(fn)) == before
    assert fn.ok("fsck") == {"Problems": [], "ObjectsChecked": len(before)}
    out = fn.ok("gc", "--grace", "0")
    assert out["ObjectsRemoved"] == 6  # two versions' record, tree and app.py blob each
    assert fn.ok("fsck") == {"Problems": [], "ObjectsChecked": len(before) - 6}
    r = run_cli("-C", str(fn.root), "invoke", "--qualifier", "3", "-", "--output", "json")
    assert (r.exit_code, r.stdout) == (0, "3\n")  # the version kept still runs


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "Missing option '--keep'"),
        (["--keep", "-1"], 2, "Invalid value for '--keep'"),
        (["--keep", "x"], 2, "Invalid value for '--keep'"),
        (["--keep", "1", "--history-depth", "-1"], 2, "Invalid value for '--history-depth'"),
        (["--keep", "1", "--older-than", "-2"], 2, "Invalid value for '--older-than'"),
        (["--keep", "1", "--older-than", "soon"], 2, "Invalid value for '--older-than'"),
        (
            ["--keep", "1", "--function-name", "other"],
            254,
            "An error occurred (ResourceNotFoundException) when calling the PruneVersions "
            "operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:other",
        ),
        (
            ["--keep", "1", "--function-name", "hello:prod"],
            254,
            "An error occurred (InvalidParameterValueException) when calling the "
            "PruneVersions operation: Cannot provide qualifier",
        ),
    ],
)
def test_prune_refusals_change_nothing(
    fn: Fn, unchanged: Any, args: list[str], code: int, message: str
) -> None:
    publish_n(fn, 3)
    with unchanged(fn.root):
        r = fn("versions", "prune", *args)
    assert (r.exit_code, r.stdout) == (code, "")
    assert message in r.stderr


def test_prune_outside_a_repository(tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "versions", "prune", "--keep", "1")
    assert r.exit_code == 253
    assert r.stderr.startswith(
        "An error occurred (RepositoryNotFound) when calling the PruneVersions operation: "
        "No lambdaver repository"
    )


# --- gc ----------------------------------------------------------------------------------------


def _two_versions_then_delete_2(fn: Fn) -> set[str]:
    """Versions 1 and 2 differing in app.py; 2 deleted.  Returns 2's own objects."""
    publish_n(fn, 2)
    mine = {record(fn, "2")["_object"], record(fn, "2")["tree"], blobs_of(fn, "2")["app.py"]}
    fn.ok("versions", "delete", "2")
    fn.write("app.py", "def handler(e, c):\n    return 1\n")  # $LATEST back to version 1
    return mine


def test_gc_keeps_unreferenced_objects_for_the_grace_period(fn: Fn, unchanged: Any) -> None:
    mine = _two_versions_then_delete_2(fn)
    with unchanged(fn.root):
        assert fn.ok("gc") == {"ObjectsRemoved": 0, "BytesFreed": 0, "TemporariesRemoved": 0}
    size = sum(obj_path(fn, d).stat().st_size for d in mine)
    assert fn.ok("gc", "--grace", "0") == {
        "ObjectsRemoved": 3,
        "BytesFreed": size,
        "TemporariesRemoved": 0,
    }
    assert not set(objects(fn)) & mine
    assert fn.ok("fsck")["Problems"] == []
    assert fn.ok("gc", "--grace", "0") == {
        "ObjectsRemoved": 0,
        "BytesFreed": 0,
        "TemporariesRemoved": 0,
    }


def test_gc_removes_objects_older_than_the_grace_period(fn: Fn) -> None:
    mine = _two_versions_then_delete_2(fn)
    young, *old = sorted(mine)
    age(*(obj_path(fn, d) for d in old))
    assert fn.ok("gc")["ObjectsRemoved"] == 2
    assert set(objects(fn)) & mine == {young}
    assert fn.ok("gc", "--grace", str(HOUR * 3))["ObjectsRemoved"] == 0


def test_gc_dry_run_counts_and_changes_nothing(fn: Fn, unchanged: Any) -> None:
    _two_versions_then_delete_2(fn)
    (fn.root / ".lambdaver" / "tmp" / "obj.1.abc").write_bytes(b"partial")
    with unchanged(fn.root):
        dry = fn.ok("gc", "--grace", "0", "--dry-run")
    assert dry["ObjectsRemoved"] == 3
    assert dry["TemporariesRemoved"] == 1
    assert fn.ok("gc", "--grace", "0") == dry


def test_gc_never_removes_what_a_version_references(fn: Fn) -> None:
    publish_n(fn, 3)
    fn.write("lib/util.py", "X = 1\n")
    fn.publish()
    every = objects(fn)
    age(*every.values())
    assert fn.ok("gc")["ObjectsRemoved"] == 0
    assert objects(fn) == every
    for q in ("1", "2", "3", "4"):
        assert fn.ok("versions", "show", q)["Version"] == q


def test_gc_removes_leftovers_of_interrupted_commands(fn: Fn) -> None:
    fn.publish()
    dot = fn.root / ".lambdaver"
    tree = record(fn, "1")["tree"]
    fn.ok("invoke", "--qualifier", "1")  # materialises version 1 in cache/run/<tree>
    run = dot / "cache" / "run"
    assert (run / tree).is_dir()
    other = "f" * 64  # a tree no version references (an invoke of a $LATEST since changed)
    leftovers = {
        dot / "tmp" / "obj.123.abcdef": b"streamed half",
        dot / "objects" / "ab" / ("c" * 62 + ".tmp.123.abcd"): b"half",
        dot / ".index.tmp.123.abcd": b"half",
        dot / "cache" / ".function.json.tmp.123.abcd": b"half",
        fn.root / ".lambdaver.toml.tmp.123.abcd": b"half",
        run / f"{tree}.stat.json.123": b"{}",
    }
    for p, data in leftovers.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    dirs = [
        fn.root / ".lambdaver.tmp.4242",
        run / f"{tree}.tmp.123.abcd",
        run / f"{tree}.stale.123.abcd",
        run / other,
    ]
    for d in dirs:
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f.py").write_bytes(b"12345")
    (run / f"{other}.stat.json").write_bytes(b"{}")
    young = dot / "tmp" / "obj.999.fresh"
    young.write_bytes(b"being written right now")
    for p in [*leftovers, *dirs, run / f"{other}.stat.json"]:
        age_tree(p) if p.is_dir() else age(p)
    age_tree(run / tree)
    out = fn.ok("gc")
    assert out == {
        "ObjectsRemoved": 0,
        "BytesFreed": sum(len(d) for d in leftovers.values()) + 5 * len(dirs) + 2,
        "TemporariesRemoved": len(leftovers) + len(dirs),
    }
    for p in [*leftovers, *dirs, run / f"{other}.stat.json"]:
        assert not p.exists(), p
    assert young.exists()
    assert (run / tree).is_dir() and (run / f"{tree}.stat.json").exists()
    assert list((dot / "objects" / "ab").iterdir()) == []  # fan-out directories stay
    assert fn.ok("fsck")["Problems"] == []


def test_gc_removes_the_leftovers_named_by_the_one_temporary_scheme(fn: Fn, unchanged: Any) -> None:
    """Every temporary is named by ``tmp_name`` (docs/FORMAT.md, "Temporaries"): gc finds
    them wherever a command leaves one, and fsck does not take them for stray files."""
    from lambdaver.storage.fileutil import tmp_name

    fn.publish()
    dot = fn.root / ".lambdaver"
    run = dot / "cache" / "run"
    run.mkdir(parents=True, exist_ok=True)
    other = "e" * 64  # a tree no version references
    blob = blobs_of(fn, "1")["app.py"]
    files = [
        Path(tmp_name(obj_path(fn, blob))),  # a loose object being written
        Path(tmp_name(dot / "tmp" / "obj")),  # a large blob being streamed
        Path(tmp_name(dot / "tmp" / "pack")),  # a pack being written
        Path(tmp_name(dot / "index")),  # atomic writes
        Path(tmp_name(dot / "cache" / "versions")),
        Path(tmp_name(fn.root / "lambdaver.toml")),
        Path(tmp_name(run / (other + ".stat.json"))),  # a materialisation's stamp
    ]
    dirs = [
        Path(tmp_name(fn.root / ".lambdaver")),  # init's repository being built
        Path(tmp_name(dot / "tmp" / "checkout")),  # checkout's staging directory
        Path(tmp_name(run / other)),  # a materialisation being made, or replaced
    ]
    for p in files:
        p.write_bytes(b"half")
    for d in dirs:
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f.py").write_bytes(b"12345")
    user_file = Path(tmp_name(fn.root / "app.py"))  # not the repository's: never swept
    user_file.write_bytes(b"mine")
    young = Path(tmp_name(dot / "index"))
    young.write_bytes(b"being written right now")
    for p in [*files, user_file]:
        age(p)
    for d in dirs:
        age_tree(d)
    assert fsck(fn, unchanged) == (0, {"Problems": [], "ObjectsChecked": len(objects(fn))})
    with unchanged(fn.root):
        dry = fn.ok("gc", "--dry-run")
    assert dry == {
        "ObjectsRemoved": 0,
        "BytesFreed": 4 * len(files) + 5 * len(dirs),
        "TemporariesRemoved": len(files) + len(dirs),
    }
    assert fn.ok("gc") == dry
    assert [p for p in [*files, *dirs] if p.exists()] == []
    assert young.exists() and user_file.exists()
    assert fn.ok("fsck")["Problems"] == []


def test_gc_collects_what_an_invoke_of_latest_stored(fn: Fn) -> None:
    fn.publish()
    before = set(objects(fn))
    fn.write("app.py", "def handler(e, c):\n    return 'latest'\n")
    r = run_cli("-C", str(fn.root), "invoke", "-", "--output", "json")
    assert (r.exit_code, r.stdout) == (0, '"latest"\n')
    stored = set(objects(fn)) - before
    assert len(stored) == 1  # the new app.py blob: no tree, no version
    assert fn.ok("gc")["ObjectsRemoved"] == 0  # within the grace period
    run = fn.root / ".lambdaver" / "cache" / "run"
    assert len(list(run.iterdir())) == 2  # the $LATEST materialisation and its stamp
    # What $LATEST is now stays, whatever its age: an invoke may be about to run it
    age(*(obj_path(fn, d) for d in stored))
    age_tree(run)
    assert fn.ok("gc") == {"ObjectsRemoved": 0, "BytesFreed": 0, "TemporariesRemoved": 0}
    fn.write("app.py", "def handler(e, c):\n    return 'edited again'\n")
    out = fn.ok("gc")
    assert (out["ObjectsRemoved"], out["TemporariesRemoved"]) == (1, 1)
    assert set(objects(fn)) == before
    assert list(run.iterdir()) == []
    r = run_cli("-C", str(fn.root), "invoke", "-", "--output", "json")
    assert (r.exit_code, r.stdout) == (0, '"edited again"\n')


def test_gc_prunes_the_stat_cache_of_the_blobs_it_deletes(fn: Fn) -> None:
    """Invariant 7: the index must not vouch for a blob gc deleted, or the next publish
    would skip storing it and make a version with a missing blob."""
    fn.write("keep.py", "K = 1\n")
    fn.publish()
    fn.write("app.py", "def handler(e, c):\n    return 2\n")
    time.sleep(1.1)  # the stat cache keeps only files changed over a second before the scan
    fn.publish()
    index = fn.root / ".lambdaver" / "index"
    cached = marshal.loads(index.read_bytes())[1]  # noqa: S302 - our own cache
    blob2 = blobs_of(fn, "2")["app.py"]
    assert cached["app.py"][-1] == blob2
    fn.ok("versions", "delete", "2")
    fn.write("app.py", "def handler(e, c):\n    return 3\n")  # blob2 is nobody's now
    fn.ok("gc", "--grace", "0")
    assert not obj_path(fn, blob2).exists()
    after = marshal.loads(index.read_bytes())[1]  # noqa: S302 - our own cache
    assert set(after) == {"keep.py"}  # app.py's entry named the deleted blob
    assert after["keep.py"] == cached["keep.py"]
    from lambdaver.storage.derived import StatCache

    pruned = StatCache(index)  # still a readable cache, without the tree hash it had
    assert (set(pruned.entries), pruned.tree) == ({"keep.py"}, None)
    assert fn.ok("fsck") == {"Problems": [], "ObjectsChecked": len(objects(fn))}
    fn.write("app.py", "def handler(e, c):\n    return 2\n")  # blob2's content again
    assert fn.publish() == "3"
    assert obj_path(fn, blob2).exists()
    assert fn.ok("fsck") == {"Problems": [], "ObjectsChecked": len(objects(fn))}


def test_gc_refuses_when_a_tree_cannot_be_read(fn: Fn, unchanged: Any) -> None:
    """Without the tree gc cannot know which blobs are used: it deletes nothing."""
    _two_versions_then_delete_2(fn)
    tree = record(fn, "1")["tree"]
    obj_path(fn, tree).unlink()
    with unchanged(fn.root):
        r = fn("gc", "--grace", "0")
    assert (r.exit_code, r.stdout) == (253, "")
    assert r.stderr == (
        "An error occurred (RepositoryCorrupt) when calling the GarbageCollect operation: "
        f"Object {tree} is missing\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grace", "-1"], "Invalid value for '--grace'"),
        (["--grace", "an hour"], "Invalid value for '--grace'"),
        (["--bogus"], "No such option '--bogus'"),
    ],
)
def test_gc_usage_errors_change_nothing(
    fn: Fn, unchanged: Any, args: list[str], message: str
) -> None:
    _two_versions_then_delete_2(fn)
    with unchanged(fn.root):
        r = fn("gc", *args)
    assert (r.exit_code, r.stdout) == (2, "")
    assert message in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--function-name", "other"],
            "An error occurred (ResourceNotFoundException) when calling the GarbageCollect "
            "operation: Function not found: arn:aws:lambda:us-east-1:000000000000:function:other\n",
        ),
        (
            ["--function-name", "hello:1"],
            "An error occurred (InvalidParameterValueException) when calling the GarbageCollect "
            "operation: Cannot provide qualifier\n",
        ),
    ],
)
def test_gc_refusals_change_nothing(fn: Fn, unchanged: Any, args: list[str], message: str) -> None:
    _two_versions_then_delete_2(fn)
    with unchanged(fn.root):
        r = fn("gc", "--grace", "0", *args)
    assert (r.exit_code, r.stdout, r.stderr) == (254, "", message)


def test_gc_outside_a_repository(tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "gc")
    assert r.exit_code == 253
    assert "(RepositoryNotFound) when calling the GarbageCollect operation" in r.stderr


def test_gc_waits_for_a_publish_holding_the_lock(fn: Fn) -> None:
    """gc and publish serialise on the repository lock: gc does not start while it is held."""
    from lambdaver.storage.fileutil import RepositoryLock

    _two_versions_then_delete_2(fn)
    lock = RepositoryLock(fn.root / ".lambdaver" / "lock")
    lock.acquire()
    cmd = (
        [str(LAMBDAVER_SCRIPT)]
        if LAMBDAVER_SCRIPT.exists()
        else [sys.executable, "-m", "lambdaver"]
    )
    proc = subprocess.Popen(
        [*cmd, "-C", str(fn.root), "gc", "--grace", "0", "--output", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        waiting = proc.poll() is None
        count = len(objects(fn))
    finally:
        lock.release()
        out, _err = proc.communicate(timeout=60)
    assert waiting
    assert count == 7  # nothing removed while the lock was held
    assert proc.returncode == 0
    assert '"ObjectsRemoved": 3' in out


# --- fsck ------------------------------------------------------------------------------------


def _repo_with_aliases(fn: Fn) -> None:
    publish_n(fn, 3)
    fn.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.25")


def fsck(fn: Fn, unchanged: Any) -> tuple[int, Any]:
    with unchanged(fn.root):
        r = fn("fsck")
    assert r.stderr == ""
    return r.exit_code, r.json


def test_fsck_clean_repository(fn: Fn, unchanged: Any) -> None:
    assert fsck(fn, unchanged) == (0, {"Problems": [], "ObjectsChecked": 0})
    _repo_with_aliases(fn)
    assert fsck(fn, unchanged) == (0, {"Problems": [], "ObjectsChecked": len(objects(fn))})
    r = fn("fsck", "--output", "text")
    assert (r.exit_code, r.stdout) == (0, f"{len(objects(fn))}\n")


def test_fsck_clean_after_promote_rollback_delete_and_gc(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    fn.ok("promote", "prod", "qa", "--create")  # history entries carry PromotedFrom
    fn.ok("alias", "update", "qa", "--version", "3", "--routing-config", "{}")
    fn.ok("rollback", "qa")
    fn.ok("alias", "create", "dev", "--version", "$LATEST")
    fn.ok("alias", "delete", "prod")
    fn.ok("versions", "delete", "3")
    fn.ok("gc", "--grace", "0")
    assert fsck(fn, unchanged) == (0, {"Problems": [], "ObjectsChecked": len(objects(fn))})


def test_fsck_on_a_terminal_prints_one_line_per_problem(fn: Fn) -> None:
    _repo_with_aliases(fn)
    r = fn("fsck", "--output", "table")
    assert (r.exit_code, r.stdout) == (
        0,
        f"{len(objects(fn))} objects checked, no problems found\n",
    )
    tree = record(fn, "3")["tree"]
    obj_path(fn, tree).unlink()
    r = fn("fsck", "--output", "table")
    assert (r.exit_code, r.stdout) == (
        1,
        f"MissingObject: Object {tree} is missing (tree of version 3)\n"
        f"{len(objects(fn))} objects checked, 1 problem found\n",
    )


def test_fsck_reports_an_unreadable_metadata_database(fn: Fn, unchanged: Any) -> None:
    fn.publish()
    (fn.root / ".lambdaver" / "meta.sqlite").write_bytes(b"garbage" * 1000)
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out == {
        "Problems": [
            {
                "Kind": "Metadata",
                "Path": "meta.sqlite",
                "Message": "meta.sqlite cannot be read: file is not a database",
            }
        ],
        "ObjectsChecked": 0,
    }


def test_fsck_finds_a_blob_whose_bytes_changed(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    blob = blobs_of(fn, "2")["app.py"]
    p = obj_path(fn, blob)
    data = bytearray(p.read_bytes())
    data[0] ^= 0xFF
    p.chmod(0o644)
    p.write_bytes(bytes(data))
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out == {
        "Problems": [
            {
                "Kind": "CorruptObject",
                "Object": blob,
                "Message": f"Object {blob} fails its hash check (blob of app.py in version 2)",
            }
        ],
        "ObjectsChecked": len(objects(fn)),
    }


def test_fsck_finds_a_missing_tree(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    tree = record(fn, "3")["tree"]
    obj_path(fn, tree).unlink()
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out["Problems"] == [
        {
            "Kind": "MissingObject",
            "Object": tree,
            "Message": f"Object {tree} is missing (tree of version 3)",
        }
    ]


def test_fsck_finds_missing_records_and_tampered_refs(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    rec1 = record(fn, "1")["_object"]
    obj_path(fn, rec1).unlink()
    raw = sql(fn, "SELECT value FROM refs WHERE ns='versions' AND name='3'")[0][0]
    tampered = raw.replace('"code_size":', '"code_size":1')
    sql(fn, "UPDATE refs SET value=? WHERE ns='versions' AND name='3'", tampered)
    code, out = fsck(fn, unchanged)
    assert code == 1
    new = sha256(tampered.encode()).hexdigest()
    assert sorted((p["Kind"], p.get("Object", p.get("Version"))) for p in out["Problems"]) == [
        ("BadVersionRecord", "3"),
        ("MissingObject", min(rec1, new)),
        ("MissingObject", max(rec1, new)),
    ]
    messages = {p["Message"] for p in out["Problems"]}
    assert f"Object {rec1} is missing (record of version 1)" in messages
    assert "Version 3's CodeSize differs from its tree" in messages


def test_fsck_finds_an_alias_pointing_at_a_deleted_version(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    sql(fn, "DELETE FROM refs WHERE ns='versions' AND name='1'")  # behind prune's back
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out["Problems"] == [
        {
            "Kind": "DanglingAlias",
            "Alias": "prod",
            "Message": "Alias prod sends weighted traffic to version 1, which does not exist",
        }
    ]
    sql(fn, "DELETE FROM refs WHERE ns='versions' AND name='2'")
    _code, out = fsck(fn, unchanged)
    assert [p["Message"] for p in out["Problems"]] == [
        "Alias prod points at version 2, which does not exist",
        "Alias prod sends weighted traffic to version 1, which does not exist",
    ]


def test_fsck_finds_routing_that_breaks_the_rules_and_history_that_differs(
    fn: Fn, unchanged: Any
) -> None:
    _repo_with_aliases(fn)
    raw = sql(fn, "SELECT value FROM refs WHERE ns='aliases' AND name='prod'")[0][0]
    bad = raw.replace('"weights":{"1":0.25}', '"weights":{"2":0.25}')
    assert bad != raw
    sql(fn, "UPDATE refs SET value=?, k2='2' WHERE ns='aliases' AND name='prod'", bad)
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert [(p["Kind"], p["Alias"]) for p in out["Problems"]] == [
        ("BadRouting", "prod"),
        ("AliasHistory", "prod"),
    ]
    assert out["Problems"][0]["Message"] == (
        "Alias prod's routing breaks AWS's rules: Invalid function version 2. Function "
        "version 2 is already included in routing configuration."
    )
    # the same state in its history too: only the routing problem remains
    sql(fn, "UPDATE reflog SET value=? WHERE id=(SELECT max(id) FROM reflog)", bad)
    _code, out = fsck(fn, unchanged)
    assert [p["Kind"] for p in out["Problems"]] == ["BadRouting"]


def test_fsck_finds_an_alias_missing_from_the_version_index(fn: Fn, unchanged: Any) -> None:
    _repo_with_aliases(fn)
    sql(fn, "UPDATE refs SET k1=NULL WHERE ns='aliases' AND name='prod'")
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out["Problems"] == [
        {
            "Kind": "AliasIndex",
            "Alias": "prod",
            "Message": "Alias prod is not indexed under version 2 (versions delete would not "
            "see it)",
        }
    ]


def test_fsck_finds_a_counter_behind_the_versions(fn: Fn, unchanged: Any) -> None:
    publish_n(fn, 3)
    sql(fn, "UPDATE counters SET value=2 WHERE name='version'")
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out["Problems"] == [
        {
            "Kind": "Counter",
            "Version": "3",
            "Message": "The version counter is 2 but version 3 exists",
        }
    ]


def test_fsck_finds_a_stale_stat_cache_and_stray_files(fn: Fn, unchanged: Any) -> None:
    fn.publish()
    fn.write("b.py", "B = 1\n")
    time.sleep(1.1)  # old enough for the stat cache to remember b.py
    fn.publish()
    blob = blobs_of(fn, "2")["b.py"]
    obj_path(fn, blob).unlink()
    stray = fn.root / ".lambdaver" / "objects" / "zz"
    stray.mkdir()
    (stray / "notes.txt").write_text("hello")
    junk = "0" * 64
    obj_path(fn, junk).parent.mkdir(exist_ok=True)
    obj_path(fn, junk).write_bytes(b"neither raw nor zlib of its name")
    code, out = fsck(fn, unchanged)
    assert code == 1
    assert out["Problems"] == [
        {"Kind": "CorruptObject", "Object": junk,
         "Message": f"Object {junk} fails its hash check (referenced by no version)"},
        {"Kind": "StrayFile", "Path": "objects/zz/notes.txt",
         "Message": "objects/zz/notes.txt is not an object"},
        {"Kind": "MissingObject", "Object": blob,
         "Message": f"Object {blob} is missing (blob of b.py in version 2)"},
        {"Kind": "StaleIndex", "Object": blob,
         "Message": f"The stat cache names blob {blob} (b.py), which is not stored"},
    ]  # fmt: skip


def test_fsck_accepts_unreferenced_objects_in_either_form(fn: Fn, unchanged: Any) -> None:
    _two_versions_then_delete_2(fn)  # leaves a raw blob and two zlib records unreferenced
    assert fsck(fn, unchanged) == (0, {"Problems": [], "ObjectsChecked": len(objects(fn))})


def test_fsck_outside_a_repository_and_with_a_qualifier(fn: Fn, tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "fsck")
    assert r.exit_code == 253
    assert "(RepositoryNotFound) when calling the Fsck operation" in r.stderr
    r = fn("fsck", "--function-name", "hello:1")
    assert (r.exit_code, r.stdout) == (254, "")


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", [["versions", "prune"], ["gc"], ["fsck"], ["completion"]])
def test_every_help_ends_with_example_and_exit_statuses(verb: list[str]) -> None:
    r = run_cli(*verb, "--help")
    assert r.exit_code == 0
    assert "Examples:\n    " in r.stdout
    assert "lambdaver " in r.stdout.split("Examples:")[1]
    assert r.stdout.rstrip().endswith("255 internal error.")


def test_fsck_help_documents_exit_1() -> None:
    r = run_cli("fsck", "--help")
    assert "1 problems found" in r.stdout
