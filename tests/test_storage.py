"""The storage core: ignore rules, symlinks, unreadable files, the stat cache, the format
version, corruption, and the metadata store's compare-and-swap (issue: foundation)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lambdaver.storage.metadata import Conflict, MetaStore
from lambdaver.storage.objects import ObjectStore

from conftest import Fn, run_cli


def files_of(fn: Fn, q: str = "$LATEST") -> list[str]:
    return [f["Path"] for f in fn.ok("versions", "show", q)["Files"]]


def test_always_ignored_entries(fn: Fn) -> None:
    fn.write(".git/HEAD", "ref\n")
    fn.write("pkg/__pycache__/m.cpython-311.pyc", "x")
    fn.write("pkg/m.pyc", "x")
    fn.write("pkg/m.py", "M = 1\n")
    fn.write(".lambdaverignore", "")
    assert files_of(fn) == ["app.py", "pkg/m.py"]


def test_lambdaverignore_uses_gitignore_syntax(fn: Fn) -> None:
    fn.write(".lambdaverignore", "*.log\nbuild/\n!keep.log\n/tests\n")
    fn.write("a.log", "x")
    fn.write("keep.log", "x")
    fn.write("build/out.bin", "x")
    fn.write("tests/test_a.py", "x")
    fn.write("src/tests/kept.py", "x")
    assert files_of(fn) == ["app.py", "keep.log", "src/tests/kept.py"]
    # the contract's entries cannot be un-ignored
    fn.write(".lambdaverignore", "!lambdaver.toml\n!.git/\n")
    fn.write(".git/config", "x")
    listed = files_of(fn)
    assert "lambdaver.toml" not in listed
    assert ".git/config" not in listed
    assert ".lambdaverignore" not in listed
    assert "a.log" in listed


def test_symlinks_are_kept_as_links(fn: Fn) -> None:
    fn.write("lib/real.py", "R = 1\n")
    os.symlink("lib/real.py", fn.root / "alias.py")
    os.symlink("lib", fn.root / "libdir")
    fn.publish()
    files = {f["Path"]: f for f in fn.ok("versions", "show", "1")["Files"]}
    assert files["alias.py"]["Mode"] == "120000"
    assert files["alias.py"]["Size"] == len("lib/real.py")
    assert files["libdir"]["Mode"] == "120000"
    assert "libdir/real.py" not in files


@pytest.mark.parametrize("target", ["../outside.py", "/etc/passwd", "a/../../x"])
def test_symlink_out_of_the_tree_is_refused(fn: Fn, unchanged, target: str) -> None:
    os.symlink(target, fn.root / "escape.py")
    with unchanged(fn.root):
        r = fn("publish")
    assert r.exit_code == 254
    assert "Symlink 'escape.py' points outside the function directory" in r.stderr
    assert r.stderr.count("\n") == 1


def test_special_file_is_refused(fn: Fn, unchanged) -> None:
    os.mkfifo(fn.root / "pipe")
    with unchanged(fn.root):
        r = fn("publish")
    assert r.exit_code == 254
    assert "'pipe' is not a regular file, directory or symlink" in r.stderr


@pytest.mark.parametrize("files", [1, 100])  # 100 new files go into a pack
def test_unreadable_file_is_refused_and_nothing_written(
    fn: Fn, unchanged, monkeypatch, files: int
) -> None:
    fn.publish()
    for i in range(files - 1):
        fn.write(f"lib/m{i}.py", f"x = {i}\n")
    fn.write("secret.py", "x = 1\n")
    real_open, real_os_open = open, os.open

    def fake_open(path, *a, **kw):  # root can read anything: simulate EACCES
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    def fake_os_open(path, *a, **kw):
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr("os.open", fake_os_open)
    before = sorted(p for p in (fn.root / ".lambdaver").rglob("*") if "cache" not in p.parts)
    with unchanged(fn.root / ".lambdaver" / "meta.sqlite"):
        r = fn("publish")
    assert r.exit_code == 254
    assert r.stderr.endswith("Cannot read 'secret.py': Permission denied\n")
    monkeypatch.undo()
    after = sorted(p for p in (fn.root / ".lambdaver").rglob("*") if "cache" not in p.parts)
    assert after == before  # no object, no pack, no temporary left behind
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_real_permissions(fn: Fn) -> None:
    p = fn.write("secret.py", "x = 1\n")
    p.chmod(0)
    r = fn("publish")
    assert r.exit_code == 254
    assert "Cannot read 'secret.py': Permission denied" in r.stderr


def test_stat_cache_catches_same_size_edits(fn: Fn, monkeypatch) -> None:
    from lambdaver.storage.derived import StatCache

    monkeypatch.setattr(StatCache, "RACY_NS", 50_000_000)
    p = fn.write("data.txt", "aaaa")
    old = time.time() - 60
    time.sleep(0.1)
    fn.publish()
    assert "data.txt" in StatCache(fn.root / ".lambdaver" / "index").entries
    p.write_text("bbbb")  # same size, new mtime
    assert fn.ok("status")["Files"]["Modified"] == ["data.txt"]
    os.utime(p, (old, old))  # even with the old mtime restored, the ctime gives it away
    assert fn.ok("status")["Files"]["Modified"] == ["data.txt"]
    assert fn.publish() == "2"


def test_stat_cache_is_not_trusted_for_fresh_files(fn: Fn) -> None:
    fn.write("fresh.txt", "1")
    fn.publish()
    from lambdaver.storage.derived import StatCache

    assert (
        "fresh.txt" not in StatCache(fn.root / ".lambdaver" / "index").entries
    )  # written in the racy window: re-read next time


def test_large_file_streams_and_round_trips(fn: Fn) -> None:
    blob = os.urandom(5 * 1024 * 1024 + 17)
    (fn.root / "big.bin").write_bytes(blob)
    fn.publish()
    import hashlib

    f = {x["Path"]: x for x in fn.ok("versions", "show", "1")["Files"]}["big.bin"]
    assert f["Size"] == len(blob)
    assert f["Sha256"] == hashlib.sha256(blob).hexdigest()
    stored = fn.root / ".lambdaver" / "objects" / f["Sha256"][:2] / f["Sha256"][2:]
    assert stored.read_bytes() == blob


def test_newer_format_is_refused(fn: Fn) -> None:
    cfg = fn.root / ".lambdaver" / "config"
    data = json.loads(cfg.read_text())
    data["format_version"] = 99
    cfg.write_text(json.dumps(data))
    r = fn("versions", "list")
    assert r.exit_code == 253
    assert "(UnsupportedRepositoryFormat)" in r.stderr
    assert "Repository format 99 is newer than this lambdaver understands" in r.stderr


def test_corrupt_object_is_named(fn: Fn) -> None:
    fn.publish()
    tree = None
    for raw in MetaStore(fn.root / ".lambdaver" / "meta.sqlite").items("versions"):
        tree = json.loads(raw[1])["tree"]
    assert tree is not None
    p = fn.root / ".lambdaver" / "objects" / tree[:2] / tree[2:]
    p.chmod(0o644)
    p.write_bytes(b"garbage")
    r = fn("status")
    assert r.exit_code == 253
    assert "(RepositoryCorrupt)" in r.stderr
    assert tree in r.stderr


def test_missing_function_file_is_explained(fn: Fn) -> None:
    (fn.root / "lambdaver.toml").unlink()
    r = fn("status")
    assert r.exit_code == 254
    assert "lambdaver.toml is missing" in r.stderr


def test_interrupted_publish_leaves_no_version(fn: Fn, monkeypatch) -> None:
    """A failure after the objects are written but before the ref moves: no version."""
    from lambdaver.storage import metadata

    def boom(self, name, expected):
        raise KeyboardInterrupt

    monkeypatch.setattr(metadata.MetaStore, "bump_counter", boom)
    r = fn("publish")
    assert r.exit_code == 130
    monkeypatch.undo()
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST"]
    assert fn.publish() == "1"


# --- library-level contracts ------------------------------------------------------------


def test_object_store_is_content_addressed(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "t").mkdir()
    store = ObjectStore(tmp_path / "o", tmp_path / "t")
    a = store.put_bytes(b"hello")
    assert a == store.put_bytes(b"hello")
    assert store.get_bytes(a) == b"hello"
    c = store.put_bytes(b"x" * 1000, compress=True)
    assert store.get_bytes(c, compressed=True) == b"x" * 1000
    assert os.stat(store.path(c)).st_size < 100
    assert list((tmp_path / "t").iterdir()) == []


def test_metadata_compare_and_swap(tmp_path: Path) -> None:
    meta = MetaStore.create(tmp_path / "m.sqlite")
    with meta.transaction():
        meta.add_if_new("ns", "a", "1", k1="x")
    with pytest.raises(Conflict), meta.transaction():
        meta.add_if_new("ns", "a", "2")
    with pytest.raises(Conflict), meta.transaction():
        meta.set_if_equals("ns", "a", "0", "3")
    with meta.transaction():
        meta.set_if_equals("ns", "a", "1", "3", k1="y")
    assert meta.get("ns", "a") == "3"
    assert meta.find("ns", "y") == ["a"]
    with meta.transaction():
        assert meta.bump_counter("c", 0) == 1
    with pytest.raises(Conflict), meta.transaction():
        meta.bump_counter("c", 0)
    # a failed transaction rolled back everything inside it
    with pytest.raises(RuntimeError), meta.transaction():
        meta.set_if_equals("ns", "a", "3", "4")
        meta.log_append("ns", "a", "t", "update", "4", None)
        raise RuntimeError
    assert meta.get("ns", "a") == "3"
    assert meta.log("ns", "a") == []


def test_many_versions_list_in_numeric_order(tmp_path: Path) -> None:
    meta = MetaStore.create(tmp_path / "m.sqlite")
    with meta.transaction():
        for i in (1, 2, 10, 9, 100):
            meta.add_if_new("v", str(i), "{}")
    assert [n for n, _ in meta.items("v", numeric=True)] == ["1", "2", "9", "10", "100"]
    assert meta.last("v") == ("100", "{}")


def test_run_cli_sees_no_repo_above_tmp(tmp_path: Path) -> None:
    assert run_cli("-C", str(tmp_path), "status").exit_code == 253


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 4096, (1 << 20) + 1])
def test_sha256_small_is_sha256(size: int) -> None:
    import hashlib

    from lambdaver.storage import hashing

    data = os.urandom(size)
    assert hashing.sha256_small(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert hashing.sha256_small(data).digest() == hashlib.sha256(data).digest()
    builtin = hashing._find_builtin()
    if builtin is not None:  # Python's own implementation, used before hashlib is loaded
        assert builtin(data).hexdigest() == hashlib.sha256(data).hexdigest()
