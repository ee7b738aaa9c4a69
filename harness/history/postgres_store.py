"""The history in a PostgreSQL database: one history shared by every machine that records (a CI fleet, a team).

psycopg 3 is imported only when a postgresql:// URL is opened. Each run is one transaction, so a client killed
mid-write leaves nothing behind (the server rolls back). Migrations take a transaction-scoped advisory lock, so
two processes opening a fresh database at once migrate it once. The URL's password never appears in
``location`` or in an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar
from urllib.parse import urlsplit

from harness.errors import DependencyError, HistoryError
from harness.history.schema import (
    LATEST_VERSION,
    POSTGRES,
    Cursor,
    SqlStore,
    create_version_table,
    migrate,
    newer_schema_error,
    read_version,
)

T = TypeVar("T")
MIGRATION_LOCK = 0x68697374  # "hist": the advisory lock key that serialises migrations in one database
FIX = "start the server or pass --history PATH for a local SQLite file"


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise DependencyError("a PostgreSQL history needs psycopg: pip install 'psycopg[binary]>=3.1'") from exc
    return psycopg


def printable(url: str) -> str:
    """The URL without its password (in the user part or a password= parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith("password="))
    # By hand, not urlunsplit: that turns "postgresql:///db" (a Unix socket) into "postgresql:/db".
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")


def _password(url: str) -> str | None:
    with suppress(ValueError):
        return urlsplit(url).password
    return None


class PostgresStore(SqlStore):
    """Runs in a PostgreSQL database (the tables live in the URL's database, on its search_path).
    ``migrate_to``: stop migrating at that schema version (for migration tests). ``write=False``: for reading only
    (no tables made, no migration; a database without the tables reads as empty)."""

    dialect = POSTGRES

    def __init__(self, url: str, *, connect_timeout: int = 5, migrate_to: int = LATEST_VERSION,
                 write: bool = True) -> None:
        self._psycopg = _psycopg()
        self.write = write
        self.url = url
        self.location = printable(url)
        self._secret = _password(url)
        self._lock = threading.RLock()  # one connection, shared by the threads that share this store
        self._conn = None
        try:
            self._conn = self._psycopg.connect(url, connect_timeout=connect_timeout, autocommit=True,
                                               application_name="harness history")
        except self._psycopg.Error as exc:
            raise HistoryError(self._unreachable(exc)) from exc
        try:
            self.version = self._open_schema(migrate_to)
        except BaseException:
            self.close()
            raise

    def _reason(self, exc: Exception) -> str:
        """The error's first line, the libpq prefix dropped, the password (should it be echoed) hidden."""
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = line.rsplit(" failed: ", 1)[-1].strip()
        for severity in ("FATAL:", "ERROR:"):
            reason = reason.removeprefix(severity).strip()
        reason = reason[:1].lower() + reason[1:]
        return reason.replace(self._secret, "***") if self._secret else reason

    def _unreachable(self, exc: Exception) -> str:
        reason = self._reason(exc)
        if "password" in reason or "authentication" in reason:
            fix = "check the user and password in the URL (or in ~/.pgpass)"
        elif "does not exist" in reason:
            fix = "create it (createdb), or fix the URL"
        elif "timeout" in reason:
            fix = "check the host and port in the URL, and that the server is up"
        else:
            fix = FIX
        return f"cannot reach PostgreSQL at {self.location} ({reason}): {fix}"

    def _error(self, exc: Exception) -> HistoryError:
        if isinstance(exc, self._psycopg.OperationalError) and (self._conn is None or self._conn.closed):
            return HistoryError(f"lost the connection to PostgreSQL at {self.location} ({self._reason(exc)}): "
                                f"{FIX}")
        return HistoryError(f"the PostgreSQL history at {self.location} failed ({self._reason(exc)}): check the "
                            "server's log, or pass --history PATH for a local SQLite file")

    def _open_schema(self, migrate_to: int) -> int:
        def peek(cur: Cursor) -> int | None:
            cur.execute("SELECT to_regclass('schema_version') IS NOT NULL")
            return read_version(cur) if cur.fetchone()[0] else None

        version = self._read(peek)  # the usual case, up to date: no lock taken
        if version is not None and version > LATEST_VERSION:
            raise newer_schema_error(self.location, version)
        if version is not None and version >= migrate_to:
            return version
        if not self.write:
            return version or 0

        def upgrade(cur: Cursor) -> int:
            # Held until commit: a second process opening the fresh database waits here, then finds it migrated
            # (CREATE TABLE IF NOT EXISTS alone races on the catalog's unique index).
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            create_version_table(cur)
            current = read_version(cur)
            if current > LATEST_VERSION:
                raise newer_schema_error(self.location, current)
            return migrate(cur, POSTGRES, current, migrate_to) if current < migrate_to else current

        return self._write(upgrade)

    def _connection(self):
        if self._conn is None:
            raise HistoryError(f"the history {self.location} is closed: open it again (open_store)")
        return self._conn

    def _write(self, work: Callable[[Cursor], T]) -> T:
        return self._transaction(work, read_only=False)

    def _read(self, work: Callable[[Cursor], T]) -> T:
        return self._transaction(work, read_only=True)

    def _transaction(self, work: Callable[[Cursor], T], read_only: bool) -> T:
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    if read_only:  # one snapshot for the runs and their fixtures
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    return work(cur)
            except self._psycopg.Error as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with suppress(Exception):
                    self._conn.close()
                self._conn = None
