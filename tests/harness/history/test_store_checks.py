"""Opening a store to read creates nothing, and ``check_store`` (the plugin's and detect's check before any work)
refuses in one line what would fail later: a damaged, foreign, newer, unwritable or unreachable store."""

from __future__ import annotations

import re
import sqlite3

import pytest

from harness.errors import HistoryError
from harness.history.sqlite_store import SqliteStore
from harness.history.store import check_store, open_store
from tests.harness.history.store_writer import make_run


def _files(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture
def recorded(tmp_path):
    path = tmp_path / "h.sqlite"
    with open_store(path) as store:
        for seed in range(20):
            store.add(make_run(seed))
    return path


def test_reading_a_missing_store_is_empty_and_creates_nothing(tmp_path):
    with open_store(tmp_path / "typo" / "h.sqlite", write=False) as store:
        assert store.runs() == [] and store.keys() == [] and store.runs(board="x", limit=1) == []
        with pytest.raises(HistoryError, match="no run 1 in the history"):
            store.get(1)
        with pytest.raises(HistoryError, match="opened for reading"):
            store.add(make_run(1))
    assert list(tmp_path.iterdir()) == []


def test_reading_leaves_the_file_as_it_was_and_never_migrates(tmp_path):
    path = tmp_path / "old.sqlite"
    with SqliteStore(path, migrate_to=1) as old:
        old.add(make_run(1))
    before = _files(tmp_path)
    with open_store(path, write=False) as store:
        assert store.version == 1 and [r.board for r in store.runs()] == ["qemu-stm32f405"]
    assert _files(tmp_path) == before  # no -wal/-shm left, still schema 1


def test_a_truncated_store_is_refused_on_open(recorded):
    page = sqlite3.connect(recorded).execute("PRAGMA page_size").fetchone()[0]
    recorded.write_bytes(recorded.read_bytes()[:-page])
    for write in (False, True):
        with pytest.raises(HistoryError, match=rf"the history {recorded} is (damaged|corrupt) .*restore it from a "
                                               "backup, or pass another --history PATH"):
            open_store(recorded, write=write)
    with pytest.raises(HistoryError, match="damaged|corrupt"):
        check_store(str(recorded), write=False)


def test_a_damaged_index_is_refused_by_quick_check(recorded):
    with sqlite3.connect(recorded) as db:  # the index loses its entries, the table keeps its rows
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metrics_name'").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(recorded.read_bytes())
    offset = (root - 1) * page
    data[offset:offset + 12] = bytes([0x0A, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0])  # an empty leaf index page
    recorded.write_bytes(bytes(data))
    with pytest.raises(HistoryError, match=r"is (damaged|corrupt) \(SQLite quick_check: "):
        open_store(recorded, write=False)


def test_check_store_creates_nothing(tmp_path):
    for write in (False, True):
        check_store(str(tmp_path / "new" / "deeper" / "h.sqlite"), write=write)
    assert list(tmp_path.iterdir()) == []


def test_check_store_passes_a_good_store_and_the_default(recorded, tmp_path, monkeypatch):
    check_store(str(recorded), write=True)
    check_store(str(recorded), write=False)
    monkeypatch.chdir(tmp_path)
    check_store(None, write=False)


@pytest.mark.parametrize("spec, write, says", [
    ("/proc/harness.sqlite", True, r"the history /proc/harness\.sqlite cannot be written: the folder /proc is not "
                                   r"writable .*: pass another --history PATH"),
    ("{tmp}/notes.txt/h.sqlite", True, r"notes\.txt is a file, not a folder: pass another --history PATH"),
    ("{tmp}/notes.txt", False, r"notes\.txt is not a harness history \(SQLite\) file: pass another --history PATH"),
    ("{tmp}", False, r"is a folder, not a SQLite file"),
    ("{tmp}/other.sqlite", False, r"is a SQLite database but not a harness history"),
    ("{tmp}/newer.sqlite", True, r"was written by a newer harness \(schema 7"),
    ("postgresql://harness:s3cret@127.0.0.1:1/h", False, r"cannot reach PostgreSQL at postgresql://harness@127\.0"
                                                         r"\.0\.1:1/h \("),
])
def test_check_store_refuses_in_one_line(tmp_path, recorded, spec, write, says):
    (tmp_path / "notes.txt").write_text("not a store\n")
    with sqlite3.connect(tmp_path / "other.sqlite") as db:
        db.execute("CREATE TABLE laps (n INTEGER)")
    newer = tmp_path / "newer.sqlite"
    newer.write_bytes(recorded.read_bytes())
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE schema_version SET version = 7")
    before = _files(tmp_path)
    with pytest.raises(HistoryError) as err:
        check_store(spec.format(tmp=tmp_path), write=write)
    message = str(err.value)
    assert "\n" not in message and "s3cret" not in message
    assert re.search(says, message), message
    assert _files(tmp_path) == before
