"""The SQLite history under concurrent writers (processes and threads) and under kill -9 mid-write."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time

from harness.history.record import run_metrics
from harness.history.store import open_store
from tests.harness.history.store_writer import make_run, release, writer

WRITES = 25


def check_every_run_whole(cursor, store) -> list:
    """Straight from the tables (not through the store, which would hide a torn run): every run row has all its
    fixtures and its metrics. The runs, as the store reads them."""
    cursor.execute('SELECT r.id, r.n_fixtures, (SELECT COUNT(*) FROM fixtures f WHERE f.run_id = r.id) FROM runs r')
    rows = cursor.fetchall()
    assert [(i, n) for i, n, have in rows if n != have] == [], "torn runs: (id, n_fixtures) lacking fixtures"
    runs = store.runs()
    assert sorted(r.id for r in runs) == sorted(r[0] for r in rows)
    cursor.execute("SELECT run_id, name, value FROM metrics")
    metrics: dict[int, dict[str, float]] = {}
    for run_id, name, value in cursor.fetchall():
        metrics.setdefault(run_id, {})[name] = value
    assert all(metrics.get(r.id) == run_metrics(r) for r in runs)
    return runs


def writers_at_once(spec: str, store_for_threads) -> None:
    """Two processes and two threads each add WRITES runs to ``spec`` at the same time (all four start together,
    once the processes are past their imports)."""
    procs = [writer(spec, runs=WRITES, tag=f"p{i}", gate=True) for i in range(2)]
    go = threading.Event()
    errors: list[BaseException] = []

    def thread(tag: str) -> None:
        try:
            with store_for_threads() as store:
                go.wait(timeout=60)
                for k in range(WRITES):
                    store.add(make_run(k, tag=tag, fixtures=3))
        except BaseException as exc:  # noqa: B036 -- reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    release(procs)
    go.set()
    for t in threads:
        t.join(timeout=120)
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.count("committed") == WRITES
    assert errors == []


def check_all_writers_landed(runs) -> None:
    tags = sorted(r.extra["tag"] for r in runs)
    assert tags == sorted([*["p0"] * WRITES, *["p1"] * WRITES, *["t0"] * WRITES, *["t1"] * WRITES])
    for tag in ("p0", "p1", "t0", "t1"):
        mine = [r for r in runs if r.extra["tag"] == tag]
        key = "k" if tag.startswith("p") else "seed"
        assert sorted(r.extra[key] for r in mine) == list(range(WRITES))  # each run once


def test_processes_and_threads_write_the_same_file_at_once(tmp_path):
    path = tmp_path / "shared.sqlite"
    writers_at_once(str(path), lambda: open_store(path))
    with open_store(path) as store, sqlite3.connect(path) as db:
        runs = check_every_run_whole(db.cursor(), store)
        check_all_writers_landed(runs)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_threads_may_share_one_store(tmp_path):
    with open_store(tmp_path / "h.sqlite") as shared:
        added: list[int] = []
        threads = [threading.Thread(target=lambda s=seed: added.extend(shared.add(make_run(s + k))
                                                                       for k in range(0, 40, 4)))
                   for seed in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(r.id for r in shared.runs()) == sorted(added) and len(added) == 40


def kill_mid_write_rounds(spec: str, count_runs, rounds: int = 5, seed: int = 20250301) -> int:
    """Start a writer of 200-fixture runs, let it commit at least once, SIGKILL it at a random moment; per round
    the store holds every run the writer reported (one more if the kill fell between its commit and its print).
    How many rounds the kill landed inside an add."""
    rng = random.Random(seed)
    inside_add = 0
    for round_ in range(rounds):
        before = count_runs()
        proc = writer(spec, runs=0, fixtures=200, tag=f"kill{round_}")
        first = proc.stdout.readline()
        while first.startswith("adding"):
            first = proc.stdout.readline()
        assert first.startswith("committed"), proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        lines = [first, *rest.splitlines(keepends=True)]
        lines = [line for line in lines if line.endswith("\n")]  # the kill may cut the last line short
        committed = sum(line.startswith("committed") for line in lines)
        inside_add += lines[-1].startswith("adding")
        assert count_runs() - before in (committed, committed + 1), f"round {round_}: {lines[-3:]}"
    return inside_add


def test_a_writer_killed_mid_write_leaves_only_whole_runs(tmp_path):
    path = tmp_path / "killed.sqlite"
    open_store(path).close()

    def count_runs() -> int:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    inside_add = kill_mid_write_rounds(str(path), count_runs)
    assert inside_add >= 1, "no kill landed inside an add: the test did not test what it claims"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with open_store(path) as store, sqlite3.connect(path) as db:
        runs = check_every_run_whole(db.cursor(), store)
        assert runs and all(len(r.fixtures) == 200 for r in runs)
        run_id = store.add(make_run(1))  # and the file takes new runs
        assert store.get(run_id).extra["seed"] == 1
