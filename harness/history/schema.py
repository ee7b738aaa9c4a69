"""The history's tables, their migrations, and the SQL both backends share.

One logical schema in SQLite and PostgreSQL; the few differences (column types, placeholders, "is in this list")
live in a Dialect. Migrations run in order inside one transaction and bump ``schema_version``:

    1  runs (one row per run: every scalar of Run, packages/extra as JSON text, n_fixtures) and fixtures
    2  metrics (run_id, name, value) = run_metrics(run), backfilled for the runs already there

JSON is kept as TEXT rather than JSONB so that a run reads back exactly as written (JSONB reorders dict keys).
A run whose fixture rows do not number ``runs.n_fixtures`` is never returned: one transaction per run already
guarantees that, the count is the belt to its braces.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import HistoryError
from harness.history.record import Run, run_metrics
from harness.history.store import HistoryStore

T = TypeVar("T")
Cursor = Any  # a DB-API cursor: sqlite3.Cursor or psycopg.Cursor

RUN_COLUMNS = ("board", "backend", "runs_on", "unit", "model", "model_id", "build_id", "dsp", "commit", "dirty",
               "branch", "time", "host", "compiler", "packages", "flash_bytes", "ram_bytes", "arena_bytes", "ap50",
               "repeats", "extra")
RUN_JSON = ("packages", "extra")
RUN_BOOL = ("dsp", "dirty")
FIXTURE_COLUMNS = ("name", "matched", "stack_bytes", "fingerprints", "detections", "latency", "fixed_float", "ran_on")
FIXTURE_JSON = ("fingerprints", "detections", "latency", "fixed_float", "ran_on")
FIXTURE_ADDED = {"ran_on": 3}  # columns a later migration added (an older store, read as it is, has not got them)
CHUNK = 500  # runs loaded per query when backfilling


@dataclass(frozen=True)
class Dialect:
    name: str
    param: str               # the driver's placeholder; shared SQL is written with "?"
    types: dict[str, str]    # {id} {ref} {bool} {int} {float} {key} in the DDL
    in_list: str             # "{col} is one of the values in the single parameter"
    list_as_json: bool       # that parameter is a JSON array (SQLite's json_each) rather than a native array

    def sql(self, text: str) -> str:
        return text if self.param == "?" else text.replace("?", self.param)

    def ddl(self, text: str) -> str:
        return text.format(**self.types)

    def one_of(self, column: str, kind: str = "text") -> str:
        return self.in_list.format(col=column, kind=kind)

    def values(self, values: Sequence) -> Any:
        return json.dumps(list(values)) if self.list_as_json else list(values)


SQLITE = Dialect("sqlite", "?", {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "ref": "INTEGER", "bool": "INTEGER",
                                 "int": "INTEGER", "float": "REAL", "key": "TEXT"},
                 "{col} IN (SELECT value FROM json_each(?))", True)
# COLLATE "C" on the columns we sort or group by: byte order, as in SQLite and Python, not the server's locale
# (which ignores the punctuation of ISO times).
POSTGRES = Dialect("postgres", "%s", {"id": "BIGSERIAL PRIMARY KEY", "ref": "BIGINT", "bool": "BOOLEAN",
                                      "int": "BIGINT", "float": "DOUBLE PRECISION", "key": 'TEXT COLLATE "C"'},
                   "{col} = ANY(?::{kind}[])", False)


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    statements: tuple[str, ...]
    backfill_metrics: bool = False


MIGRATIONS = (
    Migration(1, "runs and fixtures", (
        """CREATE TABLE runs (
            id {id},
            board {key} NOT NULL, backend TEXT NOT NULL, runs_on TEXT NOT NULL, unit TEXT NOT NULL,
            model {key} NOT NULL, model_id TEXT NOT NULL, build_id TEXT NOT NULL, dsp {bool} NOT NULL,
            "commit" {key} NOT NULL, dirty {bool} NOT NULL, branch TEXT NOT NULL, "time" {key} NOT NULL,
            host TEXT NOT NULL, compiler TEXT NOT NULL, packages TEXT NOT NULL,
            flash_bytes {int} NOT NULL, ram_bytes {int} NOT NULL, arena_bytes {int} NOT NULL, ap50 {float},
            repeats {int} NOT NULL, extra TEXT NOT NULL, n_fixtures {int} NOT NULL)""",
        'CREATE INDEX runs_board_model_time ON runs (board, model, "time")',
        'CREATE INDEX runs_commit ON runs ("commit")',
        """CREATE TABLE fixtures (
            run_id {ref} NOT NULL REFERENCES runs (id) ON DELETE CASCADE, "position" {int} NOT NULL,
            name TEXT NOT NULL, matched {bool} NOT NULL, stack_bytes {int} NOT NULL, fingerprints TEXT NOT NULL,
            detections TEXT NOT NULL, latency TEXT NOT NULL, fixed_float TEXT NOT NULL,
            PRIMARY KEY (run_id, "position"))""",
    )),
    Migration(2, "metrics, backfilled from the runs' fixtures", (
        """CREATE TABLE metrics (
            run_id {ref} NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name {key} NOT NULL, value {float},
            PRIMARY KEY (run_id, name))""",
        "CREATE INDEX metrics_name ON metrics (name)",
    ), backfill_metrics=True),
    Migration(3, "which physical board ran each fixture (a farm's place, exporter and probe)", (
        "ALTER TABLE fixtures ADD COLUMN ran_on TEXT NOT NULL DEFAULT '{{}}'",
    )),
)
LATEST_VERSION = MIGRATIONS[-1].version


def newer_schema_error(location: str, version: int) -> HistoryError:
    return HistoryError(f"the history at {location} was written by a newer harness (schema {version}, this harness "
                        f"knows up to {LATEST_VERSION}): upgrade harness (pip install -U harness), or pass another "
                        "--history")


def _columns(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{n}"' for n in names)  # quoted: "commit", "time" and "position" are SQL keywords


# --- schema_version and migrations -----------------------------------------------------------------------------

def create_version_table(cur: Cursor) -> None:
    cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")


def read_version(cur: Cursor) -> int:
    """The schema's version; 0 for a fresh store (the table must exist)."""
    cur.execute("SELECT version FROM schema_version")
    rows = cur.fetchall()
    return max((r[0] for r in rows), default=0)


def migrate(cur: Cursor, dialect: Dialect, current: int, upto: int = LATEST_VERSION) -> int:
    """Apply the migrations after ``current`` up to ``upto`` on this cursor (the caller holds the transaction and
    the lock that keeps other processes out); the version reached."""
    for m in MIGRATIONS:
        if current < m.version <= upto:
            for statement in m.statements:
                cur.execute(dialect.ddl(statement))
            if m.backfill_metrics:
                _backfill_metrics(cur, dialect, current)
            current = m.version
    cur.execute("DELETE FROM schema_version")
    cur.execute(dialect.sql("INSERT INTO schema_version (version) VALUES (?)"), (current,))
    return current


def _backfill_metrics(cur: Cursor, dialect: Dialect, version: int) -> None:
    cur.execute("SELECT id FROM runs ORDER BY id")
    ids = [r[0] for r in cur.fetchall()]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for run in select_runs(cur, dialect, [dialect.one_of("r.id", "bigint")], [dialect.values(chunk)],
                               version=version):
            insert_metrics(cur, dialect, run.id, run)


# --- rows <-> Run ------------------------------------------------------------------------------------------------

def fixture_columns(version: int) -> tuple[str, ...]:
    """The fixtures table's columns at schema ``version``."""
    return tuple(c for c in FIXTURE_COLUMNS if FIXTURE_ADDED.get(c, 1) <= version)


def insert_run(cur: Cursor, dialect: Dialect, run: Run, version: int = LATEST_VERSION) -> int:
    """Insert the run, its fixtures and (from schema 2) its metrics into a store at schema ``version``; the caller
    commits. The new id."""
    columns = fixture_columns(version)
    values = [getattr(run, c) for c in RUN_COLUMNS]
    values = [json.dumps(v) if c in RUN_JSON else v for c, v in zip(RUN_COLUMNS, values)]
    marks = ", ".join("?" * (len(RUN_COLUMNS) + 1))
    cur.execute(dialect.sql(f"INSERT INTO runs ({_columns(RUN_COLUMNS)}, n_fixtures) VALUES ({marks}) RETURNING id"),
                (*values, len(run.fixtures)))
    run_id = cur.fetchone()[0]
    rows = [(run_id, position, *(json.dumps(getattr(f, c)) if c in FIXTURE_JSON else getattr(f, c)
                                 for c in columns))
            for position, f in enumerate(run.fixtures)]
    if rows:
        marks = ", ".join("?" * (len(columns) + 2))
        cur.executemany(dialect.sql(f'INSERT INTO fixtures (run_id, "position", {_columns(columns)}) '
                                    f"VALUES ({marks})"), rows)
    if version >= 2:
        insert_metrics(cur, dialect, run_id, run)
    return run_id


def insert_metrics(cur: Cursor, dialect: Dialect, run_id: int, run: Run) -> None:
    rows = [(run_id, name, value) for name, value in run_metrics(run).items()]
    if rows:
        cur.executemany(dialect.sql("INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)"), rows)


def select_runs(cur: Cursor, dialect: Dialect, where: Sequence[str], params: Sequence,
                limit: int | None = None, version: int = LATEST_VERSION) -> list[Run]:
    """Whole runs matching every condition in ``where`` (SQL on ``runs r``), oldest first; ``limit``: the newest."""
    whole = 'r.n_fixtures = (SELECT COUNT(*) FROM fixtures f WHERE f.run_id = r.id)'
    sql = (f"SELECT r.id, {_columns(RUN_COLUMNS, 'r.')} FROM runs r "
           f"WHERE {' AND '.join([*where, whole])} ORDER BY r.\"time\" DESC, r.id DESC")
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, limit]
    cur.execute(dialect.sql(sql), tuple(params))
    heads = cur.fetchall()[::-1]
    if not heads:
        return []
    fixtures: dict[int, list[dict]] = {h[0]: [] for h in heads}
    columns = fixture_columns(version)
    cur.execute(dialect.sql(f"SELECT run_id, {_columns(columns)} FROM fixtures "
                            f'WHERE {dialect.one_of("run_id", "bigint")} ORDER BY run_id, "position"'),
                (dialect.values(list(fixtures)),))
    for run_id, *values in cur.fetchall():
        f = dict(zip(columns, values))
        f.update({k: json.loads(f[k]) for k in FIXTURE_JSON if k in f}, matched=bool(f["matched"]))
        fixtures[run_id].append(f)
    runs = []
    for run_id, *values in heads:
        d = dict(zip(RUN_COLUMNS, values))
        d.update({k: json.loads(d[k]) for k in RUN_JSON}, **{k: bool(d[k]) for k in RUN_BOOL})
        runs.append(Run.from_dict({**d, "id": run_id, "fixtures": fixtures[run_id]}))
    return runs


# --- the shared half of both stores ------------------------------------------------------------------------------

class SqlStore(HistoryStore):
    """HistoryStore over the shared SQL; a backend supplies the connection, the dialect and its transactions."""

    dialect: Dialect
    version: int  # the schema version this store's database is at

    @abc.abstractmethod
    def _write(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` in one write transaction (retried as a whole by backends that may be busy)."""

    @abc.abstractmethod
    def _read(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` in one read transaction: a consistent snapshot."""

    def add(self, run: Run) -> int:
        if not getattr(self, "write", True):
            raise HistoryError(f"the history {self.location} was opened for reading: open it with write=True")
        return self._write(lambda cur: insert_run(cur, self.dialect, run, self.version))

    def runs(self, board: str | None = None, model: str | None = None, commits: Sequence[str] | None = None,
             limit: int | None = None) -> list[Run]:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        where, params = [], []
        for column, value in (("board", board), ("model", model)):
            if value is not None:
                where.append(f"r.{column} = ?")
                params.append(value)
        if isinstance(commits, str):  # one sha, not a sequence of one-character "shas"
            commits = [commits]
        if commits is not None:
            where.append(self.dialect.one_of('r."commit"'))
            params.append(self.dialect.values(commits))
        if not self.version:  # opened for reading where nothing was recorded yet
            return []
        return self._read(lambda cur: select_runs(cur, self.dialect, where, params, limit, self.version))

    def get(self, run_id: int) -> Run:
        found = self._read(lambda cur: select_runs(cur, self.dialect, ["r.id = ?"], [int(run_id)],
                                                   version=self.version)) \
            if self.version else []
        if not found:
            raise HistoryError(f"no run {run_id} in the history at {self.location}: pass the id of a recorded run")
        return found[0]

    def keys(self) -> list[tuple[str, str]]:
        def work(cur: Cursor) -> list[tuple[str, str]]:
            cur.execute("SELECT DISTINCT board, model FROM runs")
            return sorted((b, m) for b, m in cur.fetchall())

        return self._read(work) if self.version else []
