"""The regression gate end to end, on QEMU: a user's device tests run by a separate pytest record each session
into a history store; `harness baseline update` writes the baseline file; then a slower kernel (the portable C
build), a larger arena (mb1's output no longer written over its input: +1,920 B, which still fits the F405's
128 KiB, where turning every in-place output off would not) and a lower-accuracy model (its box-regression
head damaged) each fail the session naming the metric, while an unchanged rerun passes. The history then lists
every regression, not only the latest. Also: two xdist workers and two concurrent sessions lose nothing, and a
session killed with SIGKILL records nothing (on the host board)."""

import copy
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.history.store import open_store
from harness.model.modelfile import load, save
from tests.harness.targets.needs import needs_emulator
from tests.sessions import PYTEST

ROOT = Path(__file__).resolve().parents[3]
SCENES = ("scene-001", "scene-002")
NAMES = tuple(f"scenes/{name}" for name in SCENES)

USER_TESTS = '''
import pytest

pytestmark = pytest.mark.device


def test_image(dut, reference, labelled_image, record_device_run):
    image = labelled_image.image()
    report = dut.run(image)
    record_device_run(report)
    assert reference.check(image, report).match
'''


def _project(tmp_path: Path) -> Path:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    scenes = tmp_path / "images" / "scenes"
    scenes.mkdir(parents=True)
    for name in SCENES:
        for ext in ("png", "json"):
            shutil.copy(ROOT / "fixtures" / "scenes" / f"{name}.{ext}", scenes)
    return tmp_path


def _variant(project: Path, folder: str, config=None, arrays=None) -> Path:
    """The default model changed as a commit might change it, saved under the same name (default.npz)."""
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    path = project / folder / "default.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model.replace(config=config, arrays=arrays), path)
    return path


def _larger_arena(project: Path) -> Path:
    config = copy.deepcopy(load(ROOT / "fixtures" / "models" / "default.npz").config)
    config["detection"]["max_candidates"] = 1024  # room for 512 more candidate records: the arena's peak grows
    return _variant(project, "arena", config=config)


def _worse_boxes(project: Path) -> Path:
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    arrays = dict(model.arrays)
    for j in range(len(model.config["heads"])):  # every box shrinks: width and height offsets pushed down
        bias = arrays[f"q/head{j}.loc.bias"].astype(np.int64)
        bias[2:] -= 60000
        arrays[f"q/head{j}.loc.bias"] = bias.astype(np.int32)
    return _variant(project, "worse", arrays=arrays)


def _session(project: Path, *args: str, model: Path | None = None, wait: bool = True, history: str | None = None,
             board: str = "qemu-stm32f405"):
    cmd = [*PYTEST, "-q", f"--board={board}",
           "--fixtures-dir", str(project / "images"), "--history", history or str(project / "history.sqlite"),
           "--model", str(model or ROOT / "fixtures" / "models" / "default.npz"), *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900)


def _harness(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=project, capture_output=True, text=True,
                          timeout=300)


def _regressed_metrics(out: str) -> set[str]:
    """The metric column of the gate's table in the session's terminal summary."""
    section = out.split("harness: history and regression gate", 1)[-1]
    return {line.split()[0] for line in section.splitlines() if line.strip().startswith(("latency.", "memory.",
                                                                                          "accuracy.", "agreement.",
                                                                                          "fingerprints."))}


@pytest.mark.slow  # five pytest sessions on QEMU, about two minutes: .ci/run runs it with -m slow
@needs_emulator
def test_the_gate_catches_each_regression_and_passes_an_unchanged_rerun(tmp_path):
    project = _project(tmp_path)
    first = _session(project, "--baseline=none")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "recorded as run #1" in first.stdout
    update = _harness(project, "baseline", "update", "--history", str(project / "history.sqlite"),
                      "-o", str(project / "baseline.json"))
    assert update.returncode == 0, update.stderr
    baseline = f"--baseline={project / 'baseline.json'}"

    same = _session(project, baseline)
    assert same.returncode == 0, same.stdout[-3000:]
    assert "no regression in" in same.stdout and not _regressed_metrics(same.stdout)

    slower = _session(project, baseline, "--portable")
    assert slower.returncode == 1, slower.stdout[-3000:]
    named = _regressed_metrics(slower.stdout)
    assert "latency.total" in named and any(m.startswith("latency.layer.") for m in named), named
    assert not any(m.startswith(("accuracy.", "agreement.")) for m in named), named

    arena = _session(project, baseline, model=_larger_arena(project))
    assert arena.returncode == 1, arena.stdout[-3000:]
    named = _regressed_metrics(arena.stdout)
    assert "memory.arena_bytes" in named and "latency.total" not in named, named

    worse = _session(project, baseline, model=_worse_boxes(project))
    assert worse.returncode == 1, worse.stdout[-3000:]
    named = _regressed_metrics(worse.stdout)
    assert "accuracy.ap50" in named and not any(m.startswith("memory.") for m in named), named

    # Each session compared with the one before it: every regression is listed, not only the latest.
    listed = _harness(project, "regressions", "--history", str(project / "history.sqlite"), "--json")
    assert listed.returncode == 1, listed.stderr
    runs = {g["run"]: {r["metric"] for r in g["regressions"]} for g in json.loads(listed.stdout)}
    assert "latency.total" in runs[3] and "memory.arena_bytes" in runs[4] and "accuracy.ap50" in runs[5], runs
    report = _harness(project, "report", "--history", str(project / "history.sqlite"), "-o", "report.html")
    assert report.returncode == 0, report.stderr
    assert (project / "report.html").read_text().count("<svg") >= 8


def _runs(store: Path) -> list[tuple[int, int]]:
    """(run id, fixtures stored) of every run."""
    with sqlite3.connect(store) as db:
        return db.execute("SELECT runs.id, COUNT(fixtures.run_id) FROM runs LEFT JOIN fixtures "
                          "ON fixtures.run_id = runs.id GROUP BY runs.id ORDER BY runs.id").fetchall()


@pytest.mark.slow  # four pytest sessions on QEMU per backend: .ci/run runs it with -m slow
@needs_emulator
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_workers_and_two_concurrent_sessions_lose_nothing(tmp_path, backend, request):
    """One session with two xdist workers and another with two repeats per image, at once, into one store."""
    project = _project(tmp_path)
    store = request.getfixturevalue("pg_url") if backend == "postgresql" else str(project / "history.sqlite")
    both = [_session(project, "-n", "2", "--baseline=none", wait=False, history=store),
            _session(project, "--baseline=none", "--repeats=2", wait=False, history=store)]
    outputs = [p.communicate(timeout=900)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    with open_store(store) as history:
        runs = sorted(history.runs(), key=lambda r: r.repeats)
    assert [(r.repeats, r.fixture_names()) for r in runs] == [(1, NAMES), (2, NAMES)]
    assert all(f.matched and len(f.latency["total"]) == r.repeats for r in runs for f in r.fixtures)
    assert len(set(runs[1].fixtures[0].latency["total"])) == 1  # emulator instruction counts repeat exactly
    if backend == "sqlite":
        assert _runs(project / "history.sqlite") == [(1, 2), (2, 2)]


def test_a_session_killed_midway_records_nothing(tmp_path):
    """On the host board: what is tested is the plugin's recording, which is the same on every board."""
    project = _project(tmp_path)
    done = _session(project, "--baseline=none", board="host")
    assert done.returncode == 0, done.stdout[-3000:]
    killed = _session(project, "--baseline=none", "-vv", wait=False, board="host")  # -q -vv: one line per test
    deadline, line = time.monotonic() + 300, ""
    while time.monotonic() < deadline and "PASSED" not in line and killed.poll() is None:
        line = killed.stdout.readline()  # the first fixture passed: the session is midway
    assert "PASSED" in line, "the session never finished its first test"
    os.kill(killed.pid, signal.SIGKILL)  # the firmware's process dies with it (PR_SET_PDEATHSIG)
    killed.wait(timeout=30)
    with sqlite3.connect(project / "history.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _runs(project / "history.sqlite") == [(1, 2)]
