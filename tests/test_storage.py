"""The storage core: ignore rules, symlinks, unreadable files, the stat cache, the format
version, corruption, and the metadata store's compare-and-swap (issue: foundation)."""

from __future__ import annotations

import hashlib
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


# --- storage's own errors, and the one mapping to lambdaver's ------------------------------


def test_no_storage_module_imports_lambdaver_errors_click_or_rich() -> None:
    """Storage raises its own errors (lambdaver.storage.errors) and knows nothing of AWS's
    error codes nor of the CLI: the service maps its errors (service/storage_errors.py)."""
    import ast

    import lambdaver.storage

    forbidden = ("lambdaver.errors", "click", "rich")
    found = []
    for path in sorted(Path(lambdaver.storage.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):  # lazy imports too
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    found.append(f"{path.name}:{node.lineno} imports {name}")
    assert found == []


def test_storage_errors_map_to_todays_errors_with_the_same_message() -> None:
    from lambdaver.errors import (
        EXIT_REPOSITORY,
        EXIT_SERVICE,
        InvalidParameterValueException,
        RepositoryCorrupt,
        RepositoryIOError,
    )
    from lambdaver.service.storage_errors import is_expected, translate, translated
    from lambdaver.storage.errors import BadTreeEntry, CorruptData, StorageError, StorageIOError

    cases = [
        (CorruptData("Object ab is missing", digest="ab"), RepositoryCorrupt, EXIT_REPOSITORY),
        (StorageIOError("Cannot open m: x", path="m"), RepositoryIOError, EXIT_REPOSITORY),
        (
            BadTreeEntry("'p' is not ...", path="p", reason=BadTreeEntry.SPECIAL_FILE),
            InvalidParameterValueException,
            EXIT_SERVICE,
        ),
        (StorageError("anything else"), RepositoryCorrupt, EXIT_REPOSITORY),
    ]
    for exc, cls, status in cases:
        out = translate(exc)
        assert type(out) is cls
        assert (out.message, out.exit_status, out.__cause__) == (exc.message, status, exc)
        assert is_expected(exc)
        with pytest.raises(cls) as info, translated():
            raise exc
        assert info.value.message == exc.message
    bug = ValueError("not storage's")
    assert translate(bug) is bug
    assert not is_expected(bug)
    with pytest.raises(ValueError), translated():
        raise bug


@pytest.mark.parametrize(
    ("make", "path", "reason", "detail"),
    [
        (lambda root: os.symlink("../out", root / "up.py"), "up.py", "link-outside", "../out"),
        (lambda root: os.symlink("/etc", root / "abs"), "abs", "link-outside", "/etc"),
        (lambda root: os.mkfifo(root / "sub" / "pipe"), "sub/pipe", "special-file", ""),
    ],
)
def test_a_bad_tree_entry_carries_its_path_and_reason(
    tmp_path: Path, make, path: str, reason: str, detail: str
) -> None:
    from lambdaver.storage.errors import BadTreeEntry
    from lambdaver.storage.tree import IgnoreRules, scan

    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.py").write_text("x")
    make(tmp_path)
    with pytest.raises(BadTreeEntry) as info:
        scan(tmp_path, IgnoreRules())
    assert (info.value.path, info.value.reason, info.value.detail) == (path, reason, detail)
    assert path in info.value.message


# --- temporaries: one naming scheme, recognised old names, sweeping -----------------------


def test_tmp_name_is_the_one_scheme_and_tmp_target_recognises_it(tmp_path: Path) -> None:
    from lambdaver.storage.fileutil import tmp_name, tmp_target

    made = tmp_name(tmp_path / "lambdaver.toml")
    head, name = os.path.split(made)
    assert head == str(tmp_path)
    assert name.startswith(f".lambdaver.toml.tmp.{os.getpid()}.")
    assert tmp_target(name) == "lambdaver.toml"
    assert tmp_name(tmp_path / "x") != tmp_name(tmp_path / "x")
    assert tmp_target(os.path.basename(tmp_name(tmp_path / ".lambdaver"))) == ".lambdaver"
    digest = "ab" * 32
    old_names = {  # what lambdaver made before the one scheme: gc still sweeps them
        "c" * 62 + ".tmp.123.abcd": "c" * 62,
        ".lambdaver.tmp.4242": ".lambdaver",
        f"{digest}.tmp.1.0a1b": digest,
        f"{digest}.stale.1.0a1b": digest,
        f"{digest}.stat.json.77": f"{digest}.stat.json",
    }
    for old, target in old_names.items():
        assert tmp_target(old) == target, old
    for other in [digest, f"{digest}.stat.json", "c" * 62, "obj", ".lambdaver", "index",
                  "lambdaver.toml", ".x.tmp.", ".x.tmp.12", "app.tmp.py", "pack"]:  # fmt: skip
        assert tmp_target(other) is None, other


def _store(tmp_path: Path) -> ObjectStore:
    (tmp_path / "o").mkdir()
    (tmp_path / "t").mkdir()
    return ObjectStore(tmp_path / "o", tmp_path / "t")


def _age(*paths: Path | str, seconds: float = 7200) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then), follow_symlinks=False)


def test_object_store_lists_loose_objects_without_its_temporaries(tmp_path: Path) -> None:
    from lambdaver.storage.fileutil import tmp_name

    store = _store(tmp_path)
    a = store.put_bytes(b"a")
    b = store.put_bytes(b"b", compress=True)
    root = tmp_path / "o"
    Path(tmp_name(store.path(a))).write_bytes(b"half")  # a write in progress
    (root / a[:2] / (a[2:] + ".tmp.1.ab")).write_bytes(b"half")  # an older lambdaver's
    (root / a[:2] / "stray").write_bytes(b"?")
    (root / "zz").mkdir()
    (root / "zz" / ("0" * 62)).write_bytes(b"?")
    (root / "README").write_bytes(b"?")
    (root / "pack").mkdir()
    (root / "pack" / "junk").write_bytes(b"?")
    listed = sorted(store.loose_objects(), key=lambda e: e[1])
    assert listed == sorted(
        [
            (a, store.path(a)),
            (b, store.path(b)),
            (None, str(root / a[:2] / "stray")),
            (None, str(root / "zz" / ("0" * 62))),
            (None, str(root / "README")),
        ],
        key=lambda e: e[1],
    )
    assert list(store.pack_files()) == [(str(root / "pack" / "junk"), False)]
    assert store.verify_blob(a) and store.verify_compressed(b)
    assert not store.verify_compressed(a)  # a raw blob is no zlib stream


def test_object_store_collects_garbage_older_than_the_grace_period(tmp_path: Path) -> None:
    from lambdaver.storage.fileutil import Sweeper

    store = _store(tmp_path)
    keep, old, young = store.put_bytes(b"keep"), store.put_bytes(b"old!"), store.put_bytes(b"y")
    _age(store.path(keep), store.path(old))
    dry = Sweeper(3600, dry_run=True)
    garbage = store.garbage({keep}, dry)
    assert garbage.loose == [(old, store.path(old))]
    assert garbage.digests() == {old}
    store.collect(garbage, dry)
    assert (dry.objects, dry.freed, dry.temporaries) == (1, 4, 0)
    assert store.has(old)  # a dry run only counts
    sweeper = Sweeper(3600)
    store.collect(store.garbage({keep}, sweeper), sweeper)
    assert (sweeper.objects, sweeper.freed) == (1, 4)
    assert (store.has(keep), store.has(old), store.has(young)) == (True, False, True)
    assert not store.garbage({keep}, Sweeper(3600))


def test_object_store_sweeps_its_stale_temporaries(tmp_path: Path) -> None:
    from lambdaver.storage.fileutil import Sweeper, tmp_name

    store = _store(tmp_path)
    a = store.put_bytes(b"a")
    root, tmp = tmp_path / "o", tmp_path / "t"
    (root / "pack").mkdir()
    staged = Path(store.new_tmp_dir("checkout"))
    assert staged.parent == tmp and staged.name.startswith(".checkout.tmp.")
    (staged / "0").write_bytes(b"12345")
    stale = {
        Path(tmp_name(store.path(a))): b"half",
        root / a[:2] / (a[2:] + ".tmp.9.ab"): b"old",
        tmp / "obj.1.abcdef": b"streamed",
        Path(tmp_name(tmp / "obj")): b"streamed",
        root / "pack" / ("e" * 64 + ".pack"): b"no index",
    }
    for p, data in stale.items():
        p.write_bytes(data)
    young = Path(tmp_name(tmp / "obj"))
    young.write_bytes(b"being written")
    (root / "pack" / ("d" * 64 + ".pack")).write_bytes(b"")  # a pack and its index
    (root / "pack" / ("d" * 64 + ".idx")).write_bytes(b"")
    _age(*stale, staged, staged / "0", store.path(a), root / "pack" / ("d" * 64 + ".pack"))
    sweeper = Sweeper(3600)
    store.sweep_temporaries(sweeper)
    assert (sweeper.temporaries, sweeper.objects) == (len(stale) + 1, 0)
    assert sweeper.freed == sum(len(d) for d in stale.values()) + 5
    assert [p for p in [*stale, staged] if p.exists()] == []
    assert young.exists() and store.has(a)
    kept = sorted(p.name for p in (root / "pack").iterdir())
    assert kept == ["d" * 64 + ".idx", "d" * 64 + ".pack"]


def test_sync_makes_new_objects_their_directories_and_new_fanout_entries_durable(
    tmp_path: Path, monkeypatch
) -> None:
    """Each new object file and its directory are synced; objects/ itself too when one of
    those directories was made since the last sync (its new entry must survive a power
    cut as well), and not when every directory was there already."""
    from lambdaver.storage import objects

    synced: list[list[str]] = []
    monkeypatch.setattr(objects, "fsync_paths", lambda paths: synced.append(list(paths)))
    root = tmp_path / "objects"
    root.mkdir()
    (tmp_path / "tmp").mkdir()
    store = ObjectStore(root, tmp_path / "tmp")
    first = store.put_bytes(b"one")
    store.sync()
    obj = store.path(first)
    assert [sorted(s) for s in synced] == [sorted([obj, os.path.dirname(obj), str(root)])]
    # A second object in the same fan-out directory: that directory exists, objects/ is
    # not synced again; a fresh store (another command) finds the directory there too.
    again = ObjectStore(root, tmp_path / "tmp")
    same_dir = next(
        data
        for i in range(10_000)
        if hashlib.sha256(data := f"x{i}".encode()).hexdigest()[:2] == first[:2]
    )
    h = again.put_bytes(same_dir)
    again.sync()
    assert sorted(synced[1]) == sorted([again.path(h), os.path.dirname(obj)])
    again.sync()  # nothing new: nothing synced
    assert len(synced) == 2
