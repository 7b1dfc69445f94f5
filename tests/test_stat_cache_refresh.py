"""The stat cache's tree hash (read verbs skip hashing an unchanged $LATEST) and its
refresh by read verbs (like ``git status`` refreshing the index), which must never let
the cache vouch for a blob that is not stored and durable."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lambdaver.service.repository import Repository
from lambdaver.storage.derived import StatCache
from lambdaver.storage.fileutil import RepositoryLock

from conftest import Fn


@pytest.fixture(autouse=True)
def _short_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StatCache, "RACY_NS", 50_000_000)


def index(fn: Fn) -> StatCache:
    return StatCache(fn.root / ".lambdaver" / "index")


def latest_sha(fn: Fn) -> str:
    return str(fn.ok("config", "show")["CodeSha256"])


def test_publish_saves_the_tree_hash_of_the_whole_tree(fn: Fn) -> None:
    time.sleep(0.1)
    fn.publish()
    cache = index(fn)
    assert set(cache.entries) == {"app.py"}
    shown = fn.ok("versions", "show", "1")
    assert cache.tree is not None
    assert latest_sha(fn) == shown["CodeSha256"]


def test_a_racy_file_keeps_the_tree_hash_out_until_a_read_verb_refreshes(fn: Fn) -> None:
    fn.publish(**{"lib.py": "X = 1\n"})  # lib.py is fresh: not remembered yet
    cache = index(fn)
    assert "lib.py" not in cache.entries
    assert cache.tree is None  # the cache does not cover the whole tree
    time.sleep(0.1)
    sha = latest_sha(fn)  # a read verb: hashes lib.py, and remembers it
    cache = index(fn)
    assert "lib.py" in cache.entries
    assert cache.tree is not None
    assert latest_sha(fn) == sha == fn.ok("versions", "show", "1")["CodeSha256"]


@pytest.mark.parametrize("change", ["edit", "same-size", "add", "delete", "chmod", "ignore"])
def test_any_change_to_the_tree_is_seen_despite_the_tree_hash(fn: Fn, change: str) -> None:
    fn.write("data.txt", "aaaa")
    time.sleep(0.1)
    fn.publish()
    time.sleep(0.1)
    before = latest_sha(fn)
    assert index(fn).tree is not None
    p = fn.root / "data.txt"
    if change == "edit":
        p.write_text("aaaaa")
    elif change == "same-size":
        st = p.stat()
        p.write_text("bbbb")
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # only the ctime tells
    elif change == "add":
        fn.write("new.txt", "n")
    elif change == "delete":
        p.unlink()
    elif change == "chmod":
        p.chmod(0o755)
    else:
        fn.write(".lambdaverignore", "data.txt\n")
    after = latest_sha(fn)
    assert after != before
    assert fn.ok("status")["Changed"] is True
    assert fn.publish() == "2"
    assert fn.ok("versions", "show", "2")["CodeSha256"] == after


def test_no_refresh_while_another_command_holds_the_lock(fn: Fn) -> None:
    fn.publish(**{"lib.py": "X = 1\n"})
    time.sleep(0.1)
    path = fn.root / ".lambdaver" / "index"
    raw = path.read_bytes() if path.exists() else None
    lock = RepositoryLock(fn.root / ".lambdaver" / "lock")
    assert lock.try_acquire()
    try:
        latest_sha(fn)  # does not wait for the lock, and does not write the cache
        assert (path.read_bytes() if path.exists() else None) == raw
    finally:
        lock.release()
    latest_sha(fn)
    assert "lib.py" in index(fn).entries


def test_a_read_verb_never_vouches_for_a_blob_that_is_not_stored(fn: Fn) -> None:
    time.sleep(0.1)
    fn.publish()
    fn.write("draft.txt", "never published")
    time.sleep(0.1)
    fn.ok("status")  # draft.txt's blob is not in the store: it must not be remembered
    assert "draft.txt" not in index(fn).entries
    fn.ok("invoke", "--qualifier", "$LATEST", "-")  # stores $LATEST's blobs (not synced)
    time.sleep(0.1)
    fn.ok("status")  # now stored: remembered, after being synced
    cache = index(fn)
    assert "draft.txt" in cache.entries
    digest = cache.entries["draft.txt"][-1]
    repo = Repository.discover(fn.root)
    assert repo.store.verify_blob(digest)
    # and publish may rely on it: the version's blob is there
    assert fn.publish() == "2"
    files = {f["Path"]: f["Sha256"] for f in fn.ok("versions", "show", "2")["Files"]}
    assert files["draft.txt"] == digest


def test_make_durable_refuses_missing_objects(tmp_path: Path) -> None:
    from lambdaver.storage.objects import ObjectStore

    (tmp_path / "o").mkdir()
    (tmp_path / "t").mkdir()
    store = ObjectStore(tmp_path / "o", tmp_path / "t")
    a = store.put_bytes(b"a")
    assert store.make_durable([a])
    assert not store.make_durable([a, "0" * 64])
    many = [store.put_bytes(str(i).encode()) for i in range(store.FSYNC_EACH_MAX + 1)]
    assert store.make_durable(many)
    assert not store.make_durable([*many, "1" * 64])


def test_a_publish_right_after_an_edit_leaves_the_cache_as_it_was(fn: Fn) -> None:
    """The edited file is too fresh to be remembered, so rewriting the cache would only
    drop its old entry: the cache file is left alone (its old entry no longer matches the
    file's stat, so it is never used), and the next scan still sees the edit."""
    fn.write("lib.py", "X = 1\n")
    time.sleep(0.1)
    fn.publish()
    path = fn.root / ".lambdaver" / "index"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert set(index(fn).entries) == {"app.py", "lib.py"}
    fn.write("lib.py", "X = 2\n")
    assert fn.publish() == "2"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    v1 = {f["Path"]: f["Sha256"] for f in fn.ok("versions", "show", "1")["Files"]}
    assert index(fn).entries["lib.py"][-1] == v1["lib.py"]
    fn.write("lib.py", "X = 3\n")
    assert fn.publish() == "3"  # the stale entry is not trusted
    files = {f["Path"]: f["Sha256"] for f in fn.ok("versions", "show", "3")["Files"]}
    from lambdaver.storage.hashing import sha256

    assert files["lib.py"] == sha256(b"X = 3\n").hexdigest()
    time.sleep(0.1)
    fn.ok("status")  # a read verb, once the file is old enough, remembers it
    assert index(fn).entries["lib.py"][-1] == files["lib.py"]
    assert index(fn).tree is not None
