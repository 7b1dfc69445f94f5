"""The refs memo (``.lambdaver/cache/refs``): read verbs answer single-ref lookups without
SQLite while the database's change counter is unchanged; nothing stale is ever served, and
commands that change the repository always read SQLite itself."""

from __future__ import annotations

import marshal
from pathlib import Path

from lambdaver.storage.derived import RefsMemo
from lambdaver.storage.metadata import MetaStore

from conftest import Fn

MEMO_FORMAT = RefsMemo.FORMAT


def memo_path(fn: Fn) -> Path:
    return fn.root / ".lambdaver" / "cache" / "refs"


def memo(fn: Fn) -> dict[tuple[str, str], object]:
    fmt, _key, values = marshal.loads(memo_path(fn).read_bytes())  # noqa: S302 - our file
    assert fmt == MEMO_FORMAT
    return dict(values)


def forge(fn: Fn, values: dict[tuple[str, str], object]) -> None:
    """A memo with the database's current change key but made-up values."""
    key = MetaStore(fn.root / ".lambdaver" / "meta.sqlite").change_key()
    memo_path(fn).write_bytes(marshal.dumps((MEMO_FORMAT, key, values)))


def version_of(fn: Fn, qualifier: str) -> str:
    return str(fn.ok("config", "show", "--qualifier", qualifier)["Version"])


def test_a_read_verb_remembers_what_it_looked_up(fn: Fn) -> None:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    assert version_of(fn, "prod") == "1"
    assert ("aliases", "prod") in memo(fn)
    assert ("versions", "1") in memo(fn)
    assert version_of(fn, "prod") == "1"  # now from the memo


def test_every_change_makes_the_memo_stale(fn: Fn) -> None:
    fn.publish()
    fn.publish(**{"app.py": "def handler(event, context):\n    return 2\n"})
    fn.ok("alias", "create", "prod", "--version", "1")
    assert version_of(fn, "prod") == "1"
    fn.ok("alias", "update", "prod", "--version", "2")
    assert version_of(fn, "prod") == "2"
    fn.ok("rollback", "prod")
    assert version_of(fn, "prod") == "1"
    r = fn("invoke", "--qualifier", "prod", "-")
    assert r.exit_code == 0 and r.stdout == '{"v": 0}\n'
    fn.ok("alias", "delete", "prod")
    r = fn("config", "show", "--qualifier", "prod")
    assert r.exit_code == 254 and "ResourceNotFoundException" in r.stderr
    fn.ok("versions", "delete", "1")
    r = fn("config", "show", "--qualifier", "1")
    assert r.exit_code == 254


def test_a_damaged_memo_is_ignored(fn: Fn) -> None:
    fn.publish()
    assert version_of(fn, "1") == "1"
    for garbage in (b"", b"\x00" * 40, b"junk", memo_path(fn).read_bytes()[:-3]):
        memo_path(fn).write_bytes(garbage)
        assert version_of(fn, "1") == "1"


def test_commands_that_change_the_repository_read_sqlite_itself(fn: Fn) -> None:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    forge(fn, {("aliases", "prod"): None, ("#counter", "version"): 0})
    # the forged memo is believed by a read verb (a cache is trusted while its key holds) ...
    r = fn("alias", "get", "prod")
    assert r.exit_code == 254
    # ... but not by a command that takes the lock: prod exists, and is deleted
    fn.ok("alias", "delete", "prod")
    assert fn.ok("alias", "list")["Aliases"] == []
    assert fn.publish(**{"app.py": "# 2\n"}) == "2"  # the real counter, not the memo's 0


def test_fsck_reads_sqlite_itself_and_writes_nothing(fn: Fn, unchanged) -> None:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    forge(fn, {("aliases", "prod"): '{"not": "an alias"}', ("#counter", "version"): 7})
    with unchanged(fn.root):
        assert fn.ok("fsck")["Problems"] == []


def test_derived_data_that_cannot_be_written_does_not_fail_a_read_verb(fn: Fn, monkeypatch) -> None:
    import errno

    from lambdaver.storage import fileutil

    fn.publish()
    expected = fn("versions", "list").stdout
    for cache in (fn.root / ".lambdaver" / "cache").iterdir():
        if cache.is_file():
            cache.unlink()  # everything must be written again ...

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileutil, "atomic_write", full)  # ... and cannot be
    r = fn("versions", "list")
    assert (r.exit_code, r.stdout, r.stderr) == (0, expected, "")

    def bug(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a bug in a cache")

    monkeypatch.setattr(fileutil, "atomic_write", bug)
    r = fn("config", "show", "--qualifier", "1")
    assert r.exit_code == 0 and r.json["Version"] == "1"


def test_a_database_switched_to_wal_is_switched_back_and_never_memoised(fn: Fn) -> None:
    """The memo's key is SQLite's file change counter, which WAL mode does not maintain:
    a database someone switched to WAL gives no change key (so no memo is served), and
    lambdaver's next connection switches it back to the rollback journal."""
    import sqlite3

    fn.publish()
    db = fn.root / ".lambdaver" / "meta.sqlite"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    conn.close()
    assert MetaStore(db).change_key() is None
    store = MetaStore(db)
    assert store.counter("version") == 1  # connects: back to the rollback journal
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()
    assert MetaStore(db).change_key() is not None
