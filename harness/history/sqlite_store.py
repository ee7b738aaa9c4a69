"""The history in one SQLite file: the default, for one machine (its processes and threads may all write at once).

WAL journal, so readers never wait for the writer; every write in BEGIN IMMEDIATE, so concurrent writers queue on
the file's lock (busy_timeout) instead of deadlocking on a read-to-write upgrade. A write still refused as busy is
retried a few times, then reported. synchronous=NORMAL: a killed process never tears a run (the uncommitted tail
of the WAL is ignored), only a power cut can lose the last commits.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

from harness.errors import HistoryError
from harness.history.schema import (
    LATEST_VERSION,
    SQLITE,
    Cursor,
    SqlStore,
    create_version_table,
    migrate,
    newer_schema_error,
    read_version,
)

T = TypeVar("T")
FIX = "pass another --history PATH"


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _user_tables(cur: Cursor) -> set[str]:
    cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {r[0] for r in cur.fetchall()}


class SqliteStore(SqlStore):
    """Runs in a SQLite file. ``timeout``: how long one try waits for the file's lock; ``tries``: how many tries
    a write gets; ``migrate_to``: stop migrating at that schema version (for migration tests). ``write=False``:
    for reading only, creating nothing (no folder, no file, no migration; a missing file reads as empty).
    Every existing file passes SQLite's quick_check before it is used."""

    dialect = SQLITE

    def __init__(self, path: str | Path, *, timeout: float = 60.0, tries: int = 5,
                 migrate_to: int = LATEST_VERSION, write: bool = True) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.write = write
        self._timeout, self._tries = timeout, max(1, tries)
        self._lock = threading.RLock()  # one connection, shared by the threads that share this store
        self._conn: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise HistoryError(f"the history {self.location} is a folder, not a SQLite file: {FIX}")
        if not write and not self.path.exists():
            self.version = 0  # nothing recorded there yet: an empty store, and nothing is created
            return
        existed = self.path.exists()
        if write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"cannot make the folder of the history {self.location} ({exc.strerror}): "
                                   f"{FIX}") from exc
        try:
            self._conn = self._retrying(self._connect)
            if existed:
                self._retrying(self._quick_check)
            if write:
                self._retrying(self._configure)
            self.version = self._open_schema(migrate_to)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        """Writing: the file, made if need be. Reading: the file as it is (``mode=rw`` so that the last reader
        still removes the WAL's side files on close; ``mode=ro`` when the file is read-only)."""
        options = dict(timeout=self._timeout, isolation_level=None, check_same_thread=False)
        if self.write:
            return sqlite3.connect(self.path, **options)
        uri = self.path.resolve().as_uri()
        try:
            return sqlite3.connect(f"{uri}?mode=rw", uri=True, **options)
        except sqlite3.OperationalError:
            return sqlite3.connect(f"{uri}?mode=ro", uri=True, **options)

    def _quick_check(self) -> None:
        """SQLite's own consistency check (pages, indexes, row counts): a damaged file is refused, not half read."""
        problems = [row[0] for row in self._connection().execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise HistoryError(f"the history {self.location} is damaged (SQLite quick_check: {problems[0]}"
                               f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}): restore it from "
                               f"a backup, or {FIX}")

    def _configure(self) -> None:
        conn = self._connection()
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")

    def _open_schema(self, migrate_to: int) -> int:
        def peek(cur: Cursor) -> int | None:
            cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
            return read_version(cur) if cur.fetchone() else None

        version = self._read(peek)  # the usual case, up to date: no write lock taken
        if version is not None and version > LATEST_VERSION:
            raise newer_schema_error(self.location, version)
        if version is not None and version >= migrate_to:
            return version
        if not self.write:  # reading never migrates: an old schema is read as it is, a fresh file as empty
            if version is None and self._read(_user_tables):
                raise HistoryError(f"{self.location} is a SQLite database but not a harness history: {FIX}")
            return version or 0

        def upgrade(cur: Cursor) -> int:
            tables = _user_tables(cur)
            if tables and "schema_version" not in tables:  # someone else's database: leave it alone
                raise HistoryError(f"{self.location} is a SQLite database but not a harness history: {FIX}")
            create_version_table(cur)
            current = read_version(cur)  # again, under the write lock: another process may have migrated
            if current > LATEST_VERSION:
                raise newer_schema_error(self.location, current)
            return migrate(cur, SQLITE, current, migrate_to) if current < migrate_to else current

        return self._write(upgrade)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HistoryError(f"the history {self.location} is closed: open it again (open_store)")
        return self._conn

    def _write(self, work: Callable[[Cursor], T]) -> T:
        return self._retrying(lambda: self._transaction("BEGIN IMMEDIATE", work))

    def _read(self, work: Callable[[Cursor], T]) -> T:
        return self._retrying(lambda: self._transaction("BEGIN", work))

    def _transaction(self, begin: str, work: Callable[[Cursor], T]) -> T:
        conn = self._connection()
        conn.execute(begin)
        try:
            result = work(conn.cursor())
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """``attempt`` under the store's lock, tried again (whole) while the file is busy; sqlite errors → one line."""
        with self._lock:
            for n in range(1, self._tries + 1):
                try:
                    return attempt()
                except sqlite3.Error as exc:
                    if not _busy(exc):
                        raise self._error(exc) from exc
                    if n == self._tries:
                        raise HistoryError(
                            f"the history {self.location} stayed locked by another writer ({n} tries of "
                            f"{self._timeout:g} s): let it finish, or {FIX}") from exc
                time.sleep(random.uniform(0.05, 0.25) * n)  # jitter: waiting writers do not retry in lockstep
        raise AssertionError("unreachable")

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        lowered = reason.lower()
        if "not a database" in lowered:
            return HistoryError(f"{self.location} is not a harness history (SQLite) file: {FIX}")
        if "malformed" in lowered or "corrupt" in lowered:
            return HistoryError(f"the history {self.location} is corrupt ({reason}): restore it from a backup, "
                                f"or {FIX}")
        if "unable to open" in lowered:
            return HistoryError(f"cannot open the history {self.location} ({reason}): check the path and its "
                                f"permissions, or {FIX}")
        if "readonly" in lowered or "read-only" in lowered:
            return HistoryError(f"the history {self.location} is read-only ({reason}): make it writable, or {FIX}")
        return HistoryError(f"the history {self.location} failed ({reason}): check the file and its disk, or {FIX}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
