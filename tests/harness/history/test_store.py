"""The SQLite history store: exact round trip, filters and order, the metrics table, migrations, refusals."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess

import pytest

from harness.errors import HistoryError
from harness.history.record import Run, run_metrics
from harness.history.schema import LATEST_VERSION, MIGRATIONS, RUN_COLUMNS, SQLITE, create_version_table, migrate
from harness.history.sqlite_store import SqliteStore
from harness.history.store import DEFAULT_PATH, HistoryStore, default_location, open_store
from tests.harness.history.store_writer import LAYERS, make_run


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "history.sqlite") as s:
        yield s


def stored_metrics(path, run_id: int) -> dict[str, float]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT name, value FROM metrics WHERE run_id = ?", (run_id,)).fetchall())


# The check_* bodies are shared with the PostgreSQL tests (test_postgres_store.py): one contract, two backends.

def check_round_trip(store) -> None:
    run = make_run(3, fixtures=5, repeats=4)
    assert len(run.fixtures[0].fingerprints) == 12 and any(f.detections for f in run.fixtures)
    run_id = store.add(run)
    assert isinstance(run_id, int)
    got = store.get(run_id)
    assert got == dataclasses.replace(run, id=run_id)
    # Exactly: the containers' types and the dicts' order too, not only equality.
    assert type(got.fixtures) is tuple and type(got.fixtures[0].detections[0]) is tuple
    assert type(got.fixtures[0].latency["total"]) is tuple and type(got.fixtures[0].fixed_float) is tuple
    assert list(got.fixtures[0].latency) == ["total", *LAYERS] and list(got.fixtures[0].fingerprints) == list(LAYERS)
    assert got.extra == {"tag": "", "seed": 3, "notes": ["ci", None, 1.5], "nested": {"ok": True}}
    assert store.runs() == [got]
    empty = make_run(1, fixtures=0, ap50=None)
    odd = make_run(2, fixtures=1, ap50=1 / 3)
    odd = dataclasses.replace(odd, fixtures=(dataclasses.replace(odd.fixtures[0], detections=((0.1, 0.2, 1e-300,
                                                                                                 2.5e300, 0.0),)),))
    for run in (empty, odd):
        run_id = store.add(run)
        assert store.get(run_id) == dataclasses.replace(run, id=run_id)
    assert [r.ap50 for r in store.runs()] == [None, 1 / 3, 0.8125]


def test_the_runs_table_has_a_column_for_every_field_of_run():
    # A field added to Run without a migration would silently not be stored.
    fields = {f.name for f in dataclasses.fields(Run)} - {"id", "fixtures"}
    assert set(RUN_COLUMNS) == fields


def check_filters_and_order(store) -> None:
    commits = [f"{i:040x}" for i in range(4)]
    specs = [  # seed, board, model, commit, minutes (added out of time order on purpose)
        (0, "qemu-stm32f405", "rnnpool-face", commits[0], 30),
        (1, "qemu-stm32f405", "rnnpool-face", commits[1], 10),
        (2, "nucleo-f439zi", "rnnpool-face", commits[1], 20),
        (3, "qemu-stm32f405", "tiny", commits[2], 10),   # same time as seed 1: the id breaks the tie
        (4, "qemu-stm32f405", "rnnpool-face", commits[3], 40),
        (5, "nucleo-f439zi", "tiny", commits[3], 5),
    ]
    ids = {seed: store.add(make_run(seed, board=b, model=m, commit=c, minutes=t, fixtures=2))
           for seed, b, m, c, t in specs}

    def seeds(**filters):
        return [r.extra["seed"] for r in store.runs(**filters)]

    assert seeds() == [5, 1, 3, 2, 0, 4]
    assert ids[1] < ids[3]
    assert seeds(board="qemu-stm32f405") == [1, 3, 0, 4]
    assert seeds(model="tiny") == [5, 3]
    assert seeds(board="qemu-stm32f405", model="rnnpool-face") == [1, 0, 4]
    assert seeds(commits=[commits[1], commits[3]]) == [5, 1, 2, 4]
    assert seeds(commits=(commits[1],), board="nucleo-f439zi") == [2]
    assert seeds(commits=commits[2]) == [3]  # a lone sha is one commit
    assert seeds(commits=[]) == [] and seeds(commits=["f" * 40]) == [] and seeds(board="nope") == []
    assert seeds(limit=2) == [0, 4]  # the newest two, still oldest first
    assert seeds(board="qemu-stm32f405", limit=3) == [3, 0, 4]
    assert seeds(limit=100) == seeds() and seeds(limit=0) == []
    assert all(r.id == ids[r.extra["seed"]] for r in store.runs())
    with pytest.raises(ValueError):
        store.runs(limit=-1)
    assert store.keys() == [("nucleo-f439zi", "rnnpool-face"), ("nucleo-f439zi", "tiny"),
                            ("qemu-stm32f405", "rnnpool-face"), ("qemu-stm32f405", "tiny")]


def check_get_of_a_missing_id(store) -> None:
    assert store.keys() == [] and store.runs() == []
    store.add(make_run(1))
    with pytest.raises(HistoryError, match=rf"no run 42 in the history at {store.location}: ") as err:
        store.get(42)
    assert "\n" not in str(err.value)


def test_a_rich_run_reads_back_exactly(store):
    check_round_trip(store)


def test_filters_combine_and_runs_come_oldest_first(store):
    check_filters_and_order(store)


def test_get_of_a_missing_id_names_the_id_and_the_store(store):
    check_get_of_a_missing_id(store)


def test_the_metrics_table_holds_run_metrics(tmp_path):
    path = tmp_path / "h.sqlite"
    with open_store(path) as store:
        runs = [make_run(seed, fixtures=3 + seed) for seed in range(3)] + [make_run(9, fixtures=0, ap50=None)]
        ids = [store.add(run) for run in runs]
    for run_id, run in zip(ids, runs):
        assert stored_metrics(path, run_id) == run_metrics(run)
    assert "latency.layer.rnnpool" in stored_metrics(path, ids[0]) and "accuracy.ap50" not in stored_metrics(
        path, ids[-1])


def test_a_version_1_history_is_migrated_and_its_metrics_backfilled(tmp_path):
    path = tmp_path / "old.sqlite"
    runs = [make_run(seed, fixtures=3) for seed in range(3)]
    with SqliteStore(path, migrate_to=1) as old:
        assert old.version == 1
        ids = [old.add(run) for run in runs]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'metrics'").fetchall() == []

    with open_store(path) as store:
        assert store.version == LATEST_VERSION == 3
        assert store.runs() == [dataclasses.replace(r, id=i) for r, i in zip(runs, ids)]
        new_id = store.add(make_run(5))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'metrics_name'").fetchall() == [
            ("metrics_name",)]
    for run_id, run in zip(ids, runs):
        assert stored_metrics(path, run_id) == run_metrics(run)
    assert stored_metrics(path, new_id) == run_metrics(make_run(5))


def test_version_1_alone_is_what_the_first_migration_makes(tmp_path):
    # The migration list is the schema's history: building v1 by hand gives the same tables as migrate_to=1.
    by_hand = sqlite3.connect(tmp_path / "a.sqlite", isolation_level=None)
    create_version_table(by_hand)
    assert migrate(by_hand.cursor(), SQLITE, 0, upto=1) == 1
    with SqliteStore(tmp_path / "b.sqlite", migrate_to=1):
        pass
    tables = "SELECT name, sql FROM sqlite_master ORDER BY name"
    assert by_hand.execute(tables).fetchall() == sqlite3.connect(tmp_path / "b.sqlite").execute(tables).fetchall()
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def test_a_history_from_a_newer_harness_is_refused(tmp_path):
    path = tmp_path / "h.sqlite"
    with open_store(path) as store:
        store.add(make_run(1))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (LATEST_VERSION + 1,))
    with pytest.raises(HistoryError, match=rf"{path} was written by a newer harness \(schema 4.*upgrade harness"):
        open_store(path)


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the runs you are looking for\n" * 100)
    with pytest.raises(HistoryError) as err:
        open_store(path)
    assert str(err.value) == f"{path} is not a harness history (SQLite) file: pass another --history PATH"
    assert path.read_text().startswith("these are not")  # left as it was


def test_someone_elses_sqlite_database_is_left_alone(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (lap INTEGER)")
    with pytest.raises(HistoryError, match="is a SQLite database but not a harness history: pass another"):
        open_store(path)
    with pytest.raises(HistoryError, match="is a folder, not a SQLite file"):
        open_store(tmp_path)


def test_a_torn_run_is_never_returned(tmp_path):
    # Cannot happen through add (one transaction); if a run's fixtures were lost anyway, the run is not shown.
    path = tmp_path / "h.sqlite"
    with open_store(path) as store:
        whole, torn = store.add(make_run(1)), store.add(make_run(2))
    with sqlite3.connect(path) as db:
        db.execute('DELETE FROM fixtures WHERE run_id = ? AND "position" = 1', (torn,))
    with open_store(path) as store:
        assert [r.id for r in store.runs()] == [whole]
        with pytest.raises(HistoryError, match=f"no run {torn} "):
            store.get(torn)


def test_a_writer_that_keeps_the_file_locked_is_reported(tmp_path):
    path = tmp_path / "h.sqlite"
    open_store(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with SqliteStore(path, timeout=0.1, tries=2) as store:
            assert store.runs() == []  # WAL: reading does not wait for the writer
            with pytest.raises(HistoryError, match=rf"the history {path} stayed locked by another writer \(2 tries"):
                store.add(make_run(1))
    finally:
        blocker.execute("ROLLBACK")
    with open_store(path) as store:
        store.add(make_run(1))
        assert len(store.runs()) == 1


def test_open_store_picks_the_backend_and_makes_folders(tmp_path, monkeypatch):
    path = tmp_path / "deep" / "er" / "h.sqlite"
    for spec in (path, str(path)):
        with open_store(spec) as store:
            assert isinstance(store, SqliteStore) and isinstance(store, HistoryStore) and store.location == str(path)
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert store.location == str(tmp_path / DEFAULT_PATH)
    with open_store("relative.sqlite") as store:
        store.add(make_run(1))
    assert (tmp_path / "relative.sqlite").exists()
    store.close()  # twice is harmless
    with pytest.raises(HistoryError, match="is closed"):
        store.runs()


def test_a_postgres_url_goes_to_postgres_and_hides_its_password():
    for url in ("postgresql://harness:s3cret@127.0.0.1:1/hist", "postgres://harness:s3cret@127.0.0.1:1/hist"):
        with pytest.raises(HistoryError) as err:
            open_store(url)
        scheme = url.split(":")[0]
        assert str(err.value).startswith(f"cannot reach PostgreSQL at {scheme}://harness@127.0.0.1:1/hist (")
        assert "s3cret" not in str(err.value) and "\n" not in str(err.value)
        assert str(err.value).endswith("start the server or pass --history PATH for a local SQLite file")


def test_default_location_is_at_the_top_of_the_git_work_tree(tmp_path, monkeypatch):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "src" / "deep").mkdir(parents=True)
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a repository above tmp_path
    monkeypatch.chdir(repo / "src" / "deep")
    assert default_location().resolve() == (repo / ".harness" / "history.sqlite").resolve()
    monkeypatch.chdir(elsewhere)
    assert default_location() == elsewhere / ".harness" / "history.sqlite"
