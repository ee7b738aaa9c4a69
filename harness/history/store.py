"""Where recorded runs are kept: one small interface, two backends.

    open_store(None)                        <git top>/.harness/history.sqlite (SQLite, one machine)
    open_store("path/to/history.sqlite")    that SQLite file (folders made)
    open_store("postgresql://user:pw@host/db")   a shared PostgreSQL database (a CI fleet, a team)
    open_store(spec, write=False)           for reading: creates nothing, migrates nothing (missing = empty)
    check_store(spec, write=...)            the same checks, before any work (a session's or a command's start)

Both keep the same logical schema (harness.history.schema): ``runs``, ``fixtures`` and ``metrics`` tables, each
run written in ONE transaction, so a reader sees a run whole or not at all, even when the writer is killed.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HistoryError
from harness.history.record import Run

DEFAULT_PATH = Path(".harness") / "history.sqlite"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class HistoryStore(abc.ABC):
    """Recorded runs, oldest first. Errors are HistoryError naming the store (``location``) and the fix."""

    location: str  # printable: the file path, or the URL without its password

    @abc.abstractmethod
    def add(self, run: Run) -> int:
        """Record the run, its fixtures and its metrics in one transaction; the new run's id."""

    @abc.abstractmethod
    def runs(self, board: str | None = None, model: str | None = None, commits: Sequence[str] | None = None,
             limit: int | None = None) -> list[Run]:
        """Runs matching every given filter (``commits``: full shas), oldest first (by time, then id); ``limit``
        keeps the newest ``limit`` of them. Each has its ``id``."""

    @abc.abstractmethod
    def get(self, run_id: int) -> Run:
        """The run with this id (HistoryError when there is none)."""

    @abc.abstractmethod
    def keys(self) -> list[tuple[str, str]]:
        """The distinct (board, model) pairs, sorted."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; closing twice is harmless."""

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def default_location() -> Path:
    """``.harness/history.sqlite`` at the top of the git work tree holding the cwd (else in the cwd): one history
    per checkout, wherever in it a command runs."""
    from harness.project import workspace

    return workspace().history


def open_store(spec: str | os.PathLike | None = None, *, write: bool = True) -> HistoryStore:
    """The store ``spec`` names: None → the default SQLite file, a postgresql:// (or postgres://) URL → PostgreSQL,
    anything else → a SQLite file path. ``write``: the schema is created or migrated on open; else the store is
    only read, and nothing is created (a SQLite file that does not exist reads as an empty store). An existing
    SQLite file must pass SQLite's quick_check."""
    if isinstance(spec, str) and spec.startswith(POSTGRES_SCHEMES):
        from harness.history.postgres_store import PostgresStore  # psycopg is imported only for PostgreSQL

        return PostgresStore(spec, write=write)
    from harness.history.sqlite_store import SqliteStore

    return SqliteStore(_sqlite_path(spec), write=write)


def _sqlite_path(spec: str | os.PathLike | None) -> Path:
    if spec is not None and not str(spec).strip():
        raise HistoryError("--history is empty: pass a SQLite file path or a postgresql:// URL")
    return default_location() if spec is None else Path(spec).expanduser()


def check_store(location: str | os.PathLike | None, *, write: bool) -> None:
    """Raise HistoryError (one line: the store and the fix) unless the store ``location`` names (as open_store) can
    be used: a SQLite file that exists must be a harness history that passes quick_check and is not from a newer
    harness, and with ``write`` its folder (or the nearest existing one, as the folders are made on open) must
    be writable; a PostgreSQL URL must be reachable. Creates nothing (a PostgreSQL store is only connected to)."""
    if isinstance(location, str) and location.startswith(POSTGRES_SCHEMES):
        open_store(location, write=False).close()
        return
    path = _sqlite_path(location)
    if write:
        _check_writable(path)
    open_store(path, write=False).close()


def _check_writable(path: Path) -> None:
    from harness.preflight import unwritable

    if (why := unwritable(path)) is not None:
        raise HistoryError(f"the history {path} cannot be written: {why}: pass another --history PATH")
