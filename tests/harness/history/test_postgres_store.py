"""The PostgreSQL history store against a real server (HARNESS_POSTGRES_URL, e.g. from .ci/postgres): the SQLite
store's contract, migrations guarded across processes, concurrent writers, kill -9 mid-write.

Each test gets a database of its own (CREATE DATABASE harness_test_<random>, dropped afterwards), so nothing
leaks between tests, runs, or xdist workers.
"""

from __future__ import annotations

import dataclasses
import sys
import threading

import psycopg
import pytest

from harness.errors import DependencyError, HistoryError
from harness.history.postgres_store import MIGRATION_LOCK, PostgresStore, printable
from harness.history.record import run_metrics
from harness.history.schema import LATEST_VERSION
from harness.history.store import open_store
from tests.harness.history.store_writer import make_run, release, writer
from tests.harness.history.test_store import check_filters_and_order, check_get_of_a_missing_id, check_round_trip
from tests.harness.history.test_store_concurrency import (
    check_all_writers_landed,
    check_every_run_whole,
    kill_mid_write_rounds,
    writers_at_once,
)

def query(url: str, text: str, params=()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(text, params).fetchall()


def test_a_rich_run_reads_back_exactly(pg_url):
    with open_store(pg_url) as store:
        assert isinstance(store, PostgresStore) and store.version == LATEST_VERSION
        check_round_trip(store)


def test_filters_combine_and_runs_come_oldest_first(pg_url):
    with open_store(pg_url) as store:
        check_filters_and_order(store)


def test_get_of_a_missing_id_names_the_store_without_its_password(pg_url):
    with open_store(pg_url) as store:
        assert store.location == printable(pg_url) and ":harness@" not in store.location
        check_get_of_a_missing_id(store)


def test_the_metrics_table_holds_run_metrics(pg_url):
    runs = [make_run(seed, fixtures=3 + seed) for seed in range(3)]
    with open_store(pg_url) as store:
        ids = [store.add(run) for run in runs]
    for run_id, run in zip(ids, runs):
        assert dict(query(pg_url, "SELECT name, value FROM metrics WHERE run_id = %s", (run_id,))) == run_metrics(run)


def test_a_version_1_history_is_migrated_and_its_metrics_backfilled(pg_url):
    runs = [make_run(seed, fixtures=3) for seed in range(3)]
    with PostgresStore(pg_url, migrate_to=1) as old:
        ids = [old.add(run) for run in runs]
    assert query(pg_url, "SELECT to_regclass('metrics') IS NULL, version FROM schema_version") == [(True, 1)]
    with open_store(pg_url) as store:
        assert store.version == LATEST_VERSION == 3
        assert store.runs() == [dataclasses.replace(r, id=i) for r, i in zip(runs, ids)]
    assert query(pg_url, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]
    for run_id, run in zip(ids, runs):
        assert dict(query(pg_url, "SELECT name, value FROM metrics WHERE run_id = %s", (run_id,))) == run_metrics(run)
    query(pg_url, "UPDATE schema_version SET version = %s RETURNING version", (LATEST_VERSION + 1,))
    with pytest.raises(HistoryError, match=r"was written by a newer harness \(schema 4, .*upgrade harness"):
        open_store(pg_url)


def test_a_migration_waits_for_the_one_under_way(pg_url):
    # Whoever holds the migration lock (here: us, by hand) keeps a second opener waiting, not racing.
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        opened: list[PostgresStore] = []
        opener = threading.Thread(target=lambda: opened.append(open_store(pg_url)))
        opener.start()
        opener.join(timeout=1.0)
        assert opener.is_alive() and query(pg_url, "SELECT to_regclass('runs')") == [(None,)]
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        opener.join(timeout=30)
    assert opened and opened[0].version == LATEST_VERSION
    opened[0].close()


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(pg_url):
    procs = [writer(pg_url, open_only=True, gate=True) for _ in range(4)]
    release(procs)  # past their imports, so the opens really coincide
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out == f"version {LATEST_VERSION}\n", err
    assert query(pg_url, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]
    tables = query(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    assert tables == [("fixtures",), ("metrics",), ("runs",), ("schema_version",)]


def test_processes_and_threads_write_at_once(pg_url):
    writers_at_once(pg_url, lambda: open_store(pg_url))
    with open_store(pg_url) as store, psycopg.connect(pg_url) as db:
        check_all_writers_landed(check_every_run_whole(db.cursor(), store))


def test_a_writer_killed_mid_write_leaves_only_whole_runs(pg_url):
    open_store(pg_url).close()
    inside_add = kill_mid_write_rounds(pg_url, lambda: query(pg_url, "SELECT COUNT(*) FROM runs")[0][0])
    assert inside_add >= 1, "no kill landed inside an add: the test did not test what it claims"
    with open_store(pg_url) as store, psycopg.connect(pg_url) as db:
        runs = check_every_run_whole(db.cursor(), store)
        assert runs and all(len(r.fixtures) == 200 for r in runs)
        assert store.get(store.add(make_run(1))).extra["seed"] == 1


def test_without_psycopg_the_error_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(DependencyError, match=r"pip install 'psycopg\[binary\]>=3.1'"):
        open_store("postgresql://harness@localhost/harness")


def test_printable_drops_only_the_password():
    assert printable("postgresql://u:pw@db.example:5433/hist?sslmode=require&password=pw2") == (
        "postgresql://u@db.example:5433/hist?sslmode=require")
    assert printable("postgres://u@h/d") == "postgres://u@h/d"
    assert printable("postgresql:///hist?host=/var/run/postgresql") == "postgresql:///hist?host=/var/run/postgresql"
