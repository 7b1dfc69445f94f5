"""Refs, ref logs and counters in one SQLite file: the only mutable metadata.

Generic: a ref is ``(namespace, name) -> value`` (text, usually JSON) with two optional
indexed keys for reverse look-ups and an optional ``view`` (a derived rendering of the
value that the owner may keep beside it, so that listings need not re-render); a ref
log entry records each state a ref had, with the time, a change word and a parent link.
Every change runs in one ``BEGIN IMMEDIATE`` transaction, so a ref and its log line are
written together or not at all, and compare-and-swap (``add_if_new``,
``set_if_equals``) re-reads the current value inside it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lambdaver.value import Value

if TYPE_CHECKING:
    import sqlite3

    from lambdaver.storage.derived import RefsMemo
    from lambdaver.storage.errors import CorruptData, StorageIOError
    from lambdaver.storage.fileutil import StrPath

# sqlite3 (with _sqlite3, about 1 ms) is imported when a connection is first needed:
# a listing served from derived data needs only the file's change counter (change_key).

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    ns TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    k1 TEXT, k2 TEXT, view TEXT,
    PRIMARY KEY (ns, name)
);
CREATE INDEX IF NOT EXISTS refs_k1 ON refs (ns, k1);
CREATE INDEX IF NOT EXISTS refs_k2 ON refs (ns, k2);
CREATE TABLE IF NOT EXISTS reflog (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ns TEXT NOT NULL, name TEXT NOT NULL,
    at TEXT NOT NULL, change TEXT NOT NULL, value TEXT, parent INTEGER
);
CREATE INDEX IF NOT EXISTS reflog_ref ON reflog (ns, name, id);
"""

#: Rollback journal, set explicitly on every connection: ``change_key`` relies on it.
JOURNAL_MODE = "DELETE"


class LogEntry(Value):
    """One row of a ref's log (its columns, in order)."""

    id: int
    at: str
    change: str
    value: str | None
    parent: int | None


class Conflict(Exception):
    """A compare-and-swap found a different current value."""

    def __init__(self, current: str | None) -> None:
        super().__init__("compare-and-swap conflict")
        self.current = current


class MetaStore:
    """Refs, logs and counters.  With ``memo`` (a file of derived data), single-ref reads
    and counters are remembered with the change key of the state they were read in, and
    served from there, without SQLite, while the database is unchanged: see :meth:`get`."""

    def __init__(self, path: StrPath, memo: StrPath | None = None) -> None:
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._memo: RefsMemo | None = None
        if memo is not None:
            from lambdaver.storage.derived import RefsMemo

            self._memo = RefsMemo(memo)
        self._writing = False  # this process changed the database: no memo from now on

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            import sqlite3

            if not os.path.exists(self.path):
                from lambdaver.storage.errors import CorruptData

                raise CorruptData(f"Metadata database {self.path} is missing", path=self.path)
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
            except sqlite3.Error as exc:
                from lambdaver.storage.errors import StorageIOError

                raise StorageIOError(f"Cannot open {self.path}: {exc}", path=self.path) from exc
            try:
                # The memos' change key is SQLite's file change counter, which only the
                # rollback-journal modes maintain: a database someone switched to WAL
                # (say, with the sqlite3 shell) is switched back.  If that fails (a damaged
                # file, another connection open), the next statement reports the damage,
                # and change_key() gives no key for a WAL database, so no memo is used.
                conn.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")
            except sqlite3.DatabaseError:
                pass
            self._conn = conn
        return self._conn

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """One statement; SQLite's errors become the repository's (I/O or corruption)."""
        conn = self.conn
        try:
            return conn.execute(sql, params)
        except _sqlite3().DatabaseError as exc:
            raise _error(self.path, exc) from exc

    @classmethod
    def create(cls, path: StrPath) -> MetaStore:
        import sqlite3

        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")
            conn.executescript("BEGIN;" + SCHEMA + "COMMIT;")
        finally:
            conn.close()
        return cls(path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        conn = self.conn
        sqlite3 = _sqlite3()
        self._writing = True
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _error(self.path, exc) from exc
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # never hide the error that got us here
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise _error(self.path, exc) from exc

    def change_key(self) -> tuple[int, int, int] | None:
        """Something that changes with every committed change: SQLite's file change
        counter (a big-endian integer at offset 24 of the header, "incremented whenever
        the database file is unlocked after having been modified", in rollback-journal
        mode), with the file's inode and size.  Read without SQLite; None if unreadable."""
        try:
            with open(self.path, "rb") as f:
                header = f.read(28)
                st = os.fstat(f.fileno())
        except OSError:
            return None
        if len(header) < 28 or not header.startswith(b"SQLite format 3\x00"):
            return None
        if header[18] != 1 or header[19] != 1:  # WAL (2): the counter does not move
            return None
        return (int.from_bytes(header[24:28], "big"), st.st_ino, st.st_size)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[tuple[int, int, int] | None]:
        """A read transaction: every read inside sees one committed state, whose
        :meth:`change_key` is yielded (taken while SQLite's shared lock keeps writers out,
        so it names exactly that state)."""
        conn = self.conn
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock
        except _sqlite3().DatabaseError as exc:
            raise _error(self.path, exc) from exc
        try:
            yield self.change_key()
        finally:
            try:
                conn.execute("COMMIT")
            except _sqlite3().Error:
                with contextlib.suppress(_sqlite3().Error):
                    conn.execute("ROLLBACK")

    # --- counters -------------------------------------------------------------------

    def counter(self, name: str) -> int:
        value = self._read(("#counter", name), "SELECT value FROM counters WHERE name=?", (name,))
        return int(str(value)) if value is not None else 0

    def bump_counter(self, name: str, expected: int) -> int:
        """Compare-and-swap increment (call inside :meth:`transaction`)."""
        cur = self.counter(name)
        if cur != expected:
            raise Conflict(str(cur))
        self._execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            (name, cur + 1),
        )
        return cur + 1

    # --- refs -----------------------------------------------------------------------

    def get(self, ns: str, name: str) -> str | None:
        value = self._read((ns, name), "SELECT value FROM refs WHERE ns=? AND name=?", (ns, name))
        return None if value is None else str(value)

    # --- the memo ---------------------------------------------------------------------

    def _read(self, k: tuple[str, str], sql: str, params: tuple[object, ...]) -> object:
        """The first column of the one row ``sql`` selects (None if there is none).

        Outside a transaction and with a memo, the value comes from the memo if the memo
        was made in the state the database is in now (its change key, read from the file's
        header without SQLite, is unchanged); otherwise it is read inside a read
        transaction together with the change key of that state, and remembered with it.
        The memo is written by :meth:`save_memo`, when the command succeeded."""
        memo = self._memo
        if memo is None or self._writing or self.in_transaction:
            row = self._execute(sql, params).fetchone()
            return row[0] if row else None
        from lambdaver.storage.derived import MISS

        value = memo.lookup(k, self.change_key)
        if value is not MISS:
            return value
        with self.snapshot() as key:
            row = self._execute(sql, params).fetchone()
        value = row[0] if row else None
        if key is not None:
            memo.remember(key, k, value)
        return value

    def bypass_memo(self) -> None:
        """Read everything from SQLite itself from now on (fsck, and a process that took
        the lock to change the repository)."""
        self._memo = None

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def save_memo(self) -> None:
        """Write the memo if reads added to it (best effort: it is derived data)."""
        if self._memo is not None and not self._writing:
            self._memo.save()

    def items(self, ns: str, *, numeric: bool = False) -> list[tuple[str, str]]:
        order = "length(name), name" if numeric else "name"
        rows = self._execute(
            f"SELECT name, value FROM refs WHERE ns=? ORDER BY {order}",  # noqa: S608
            (ns,),
        ).fetchall()
        return [(str(n), str(v)) for n, v in rows]

    def last(self, ns: str) -> tuple[str, str] | None:
        """The ref with the numerically greatest name."""
        row = self._execute(
            "SELECT name, value FROM refs WHERE ns=? ORDER BY length(name) DESC, name DESC LIMIT 1",
            (ns,),
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def find(self, ns: str, key: str) -> list[str]:
        """Names of refs whose k1 or k2 equals ``key``."""
        rows = self._execute(
            "SELECT name FROM refs WHERE ns=? AND k1=? "
            "UNION SELECT name FROM refs WHERE ns=? AND k2=? ORDER BY name",
            (ns, key, ns, key),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def find_k1(self, ns: str, key: str) -> list[tuple[str, str]]:
        rows = self._execute(
            "SELECT name, value FROM refs WHERE ns=? AND k1=? ORDER BY name", (ns, key)
        ).fetchall()
        return [(str(n), str(v)) for n, v in rows]

    def add_if_new(
        self,
        ns: str,
        name: str,
        value: str,
        k1: str | None = None,
        k2: str | None = None,
        view: str | None = None,
    ) -> None:
        """Create a ref; ``Conflict`` if it exists (call inside :meth:`transaction`)."""
        cur = self.get(ns, name)
        if cur is not None:
            raise Conflict(cur)
        self._execute(
            "INSERT INTO refs (ns, name, value, k1, k2, view) VALUES (?, ?, ?, ?, ?, ?)",
            (ns, name, value, k1, k2, view),
        )

    def views(self, ns: str) -> list[tuple[str, str, str | None]]:
        """``(name, value, view)`` of every ref in ``ns``, numerically ordered by name."""
        rows = self._execute(
            "SELECT name, value, view FROM refs WHERE ns=? ORDER BY length(name), name", (ns,)
        ).fetchall()
        return [(str(n), str(v), None if w is None else str(w)) for n, v, w in rows]

    def set_if_equals(
        self,
        ns: str,
        name: str,
        old: str | None,
        new: str,
        k1: str | None = None,
        k2: str | None = None,
    ) -> None:
        """Move a ref from ``old`` to ``new``; ``Conflict`` if it is not at ``old``."""
        cur = self.get(ns, name)
        if cur != old:
            raise Conflict(cur)
        self._execute(
            "INSERT INTO refs (ns, name, value, k1, k2) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(ns, name) DO UPDATE SET "
            "value=excluded.value, k1=excluded.k1, k2=excluded.k2, view=NULL",
            (ns, name, new, k1, k2),
        )

    def remove(self, ns: str, name: str) -> bool:
        cur = self._execute("DELETE FROM refs WHERE ns=? AND name=?", (ns, name))
        return cur.rowcount > 0

    # --- ref logs -------------------------------------------------------------------

    def log_append(
        self, ns: str, name: str, at: str, change: str, value: str | None, parent: int | None
    ) -> int:
        cur = self._execute(
            "INSERT INTO reflog (ns, name, at, change, value, parent) VALUES (?, ?, ?, ?, ?, ?)",
            (ns, name, at, change, value, parent),
        )
        return int(cur.lastrowid or 0)

    def log(self, ns: str, name: str) -> list[LogEntry]:
        """A ref's log, newest first."""
        rows = self._execute(
            "SELECT id, at, change, value, parent FROM reflog WHERE ns=? AND name=? "
            "ORDER BY id DESC",
            (ns, name),
        ).fetchall()
        return [LogEntry(*r) for r in rows]

    def log_head(self, ns: str, name: str) -> LogEntry | None:
        row = self._execute(
            "SELECT id, at, change, value, parent FROM reflog WHERE ns=? AND name=? "
            "ORDER BY id DESC LIMIT 1",
            (ns, name),
        ).fetchone()
        return LogEntry(*row) if row else None

    def log_entry(self, entry_id: int) -> LogEntry | None:
        row = self._execute(
            "SELECT id, at, change, value, parent FROM reflog WHERE id=?", (entry_id,)
        ).fetchone()
        return LogEntry(*row) if row else None

    def log_clear(self, ns: str, name: str) -> None:
        self._execute("DELETE FROM reflog WHERE ns=? AND name=?", (ns, name))


_IO_WORDS = ("readonly", "disk i/o", "full", "locked", "unable to open", "busy")


def _sqlite3() -> Any:
    import sqlite3

    return sqlite3


def _error(path: str, exc: sqlite3.Error) -> StorageIOError | CorruptData:
    """Read-only, full or failing disks are I/O errors; anything else SQLite says about
    its own file ("not a database", "malformed", a missing table) is corruption."""
    from lambdaver.storage.errors import CorruptData, StorageIOError

    sqlite3 = _sqlite3()
    text = str(exc)
    if "readonly" in text:
        return StorageIOError(f"The repository is read-only: cannot write {path}", path=path)
    if isinstance(exc, sqlite3.OperationalError) and any(w in text.lower() for w in _IO_WORDS):
        return StorageIOError(f"Cannot write {path}: {text}", path=path)
    return CorruptData(f"{path} is damaged: {text}", path=path)
