"""The history commands on a real SQLite store and a real git repository: runs recorded at four commits, the
third a slower kernel and the fourth a larger arena. `harness history`, `compare`, `regressions` (every
regression, and a commit range), `report` and `baseline update`; one-line errors. And `harness detect --history`
on QEMU records a one-image run."""

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.history.baseline import read_baseline
from harness.history.store import open_store
from tests.harness.history.test_gate import make_run

ROOT = Path(__file__).resolve().parents[3]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """Four commits, one recorded run each (commit 3 slower in mb2, commit 4 with a larger arena)."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "ci@example.com")
    _git(tmp_path, "config", "user.name", "ci")
    monkeypatch.chdir(tmp_path)
    changes = [{}, {}, {"scale": {"mb2": 1.05}}, {"scale": {"mb2": 1.05}, "arena_bytes": 114496}]
    with open_store(tmp_path / "h.sqlite") as store:
        for k, change in enumerate(changes):
            (tmp_path / "f.txt").write_text(str(k))
            _git(tmp_path, "add", "f.txt")
            _git(tmp_path, "commit", "-q", "-m", f"commit {k}")
            sha = _git(tmp_path, "rev-parse", "HEAD")
            run = make_run(seed=k, scale=change.get("scale"), commit=sha, time=f"2026-11-2{k}T10:00:00+00:00")
            if "arena_bytes" in change:
                run = dataclasses.replace(run, arena_bytes=change["arena_bytes"])
            store.add(run)
    return tmp_path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_history_lists_every_run_newest_first(repo, capsys):
    code, out, _ = _run(capsys, "history", "--history", "h.sqlite")
    assert code == 0 and "qemu-stm32f405 / model face-rnnpool: 4 run(s)" in out
    rows = [line.split()[0] for line in out.splitlines() if line.strip().startswith("#")]
    assert rows == ["#4", "#3", "#2", "#1"]
    code, out, _ = _run(capsys, "history", "--history", "h.sqlite", "--json")
    runs = json.loads(out)
    assert [r["id"] for r in runs] == [1, 2, 3, 4] and runs[3]["metrics"]["memory.arena_bytes"] == 114496


def test_compare_two_refs_names_the_regressed_metrics(repo, capsys):
    code, out, _ = _run(capsys, "compare", "HEAD~3", "HEAD", "--history", "h.sqlite")
    assert code == 1
    regressed = {line.split()[0] for line in out.splitlines() if "REGRESSION" in line}
    assert regressed == {"latency.total", "latency.layer.mb2", "memory.arena_bytes"}
    code, out, _ = _run(capsys, "compare", "#1", "#2", "--history", "h.sqlite")
    assert code == 0 and "0 regression(s)" in out


def test_regressions_lists_every_one_not_only_the_latest(repo, capsys):
    code, out, _ = _run(capsys, "regressions", "--history", "h.sqlite", "--json")
    found = json.loads(out)
    assert code == 1 and [g["run"] for g in found] == [3, 4]
    assert {r["metric"] for r in found[0]["regressions"]} == {"latency.total", "latency.layer.mb2"}
    assert {r["metric"] for r in found[1]["regressions"]} == {"memory.arena_bytes"}
    code, out, _ = _run(capsys, "regressions", "HEAD~1..HEAD", "--history", "h.sqlite")
    assert code == 1 and "1 regressing run(s) in HEAD~1..HEAD" in out
    assert ": run #4 (" in out and ": run #3 (" not in out and "against run #3" in out
    code, out, _ = _run(capsys, "regressions", "HEAD~3..HEAD~2", "--history", "h.sqlite")
    assert code == 0 and "no regressions" in out


def test_report_and_baseline_update(repo, capsys):
    code, out, _ = _run(capsys, "report", "--history", "h.sqlite", "-o", "out/report.html")
    assert code == 0 and (repo / "out" / "report.html").read_text().count("<svg") >= 6
    code, out, _ = _run(capsys, "baseline", "update", "--history", "h.sqlite", "--ref", "HEAD~1", "-o", "b.json")
    assert code == 0 and "run #3" in out
    with open_store(repo / "h.sqlite") as store:
        assert read_baseline(repo / "b.json") == dataclasses.replace(store.get(3), id=None)


def test_board_as_the_test_run_named_it_selects_its_runs(repo, capsys):
    """--board NAME@PORT, as `pytest --board=` took it, means the board NAME: the store keeps runs by board."""
    outs = [_run(capsys, "baseline", "update", "--history", "h.sqlite", "--board", b, "-o", "b.json")
            for b in ("qemu-stm32f405", "qemu-stm32f405@/dev/pts/7")]
    assert outs[0][0] == outs[1][0] == 0 and outs[0][1] == outs[1][1] and "run #4" in outs[1][1]
    code, _, err = _run(capsys, "baseline", "update", "--history", "h.sqlite", "--board", "nucleo-f429zi@/dev/ttyACM0")
    assert code == 2 and "no recorded runs for nucleo-f429zi/*" in err


def test_model_by_name_or_by_file_selects_the_same_runs(repo, capsys):
    """--model means a model everywhere: here its name in the store is the file's stem."""
    outs = [_run(capsys, "history", "--history", "h.sqlite", "--model", m) for m in ("face-rnnpool",
                                                                                   "elsewhere/face-rnnpool.npz")]
    assert outs[0] == outs[1] and outs[0][0] == 0 and "model face-rnnpool: 4 run(s)" in outs[0][1]


def test_errors_are_one_line(repo, capsys, tmp_path):
    code, _, err = _run(capsys, "compare", "no-such-ref", "HEAD", "--history", "h.sqlite")
    assert code == 2 and err.count("\n") == 1 and "no-such-ref" in err
    code, out, _ = _run(capsys, "history", "--history", str(tmp_path / "empty.sqlite"))
    assert code == 0 and "no runs recorded" in out
    with open_store(repo / "h.sqlite") as store:
        store.add(make_run(unit="cycles"))
    code, _, err = _run(capsys, "baseline", "update", "--history", "h.sqlite")
    assert code == 2 and "choose with --board and --model" in err and err.count("\n") == 1


def test_detect_records_a_one_image_run_under_its_board_and_unit(tmp_path, capsys):
    """On the host board: its figures are host time, recorded as such under its own board name."""
    image = ROOT / "fixtures" / "scenes" / "scene-009.png"
    code, out, _ = _run(capsys, "detect", str(image), "--board", "host", "-q", "--history",
                        str(tmp_path / "h.sqlite"))
    assert code == 0 and "recorded as run #1" in out
    with open_store(tmp_path / "h.sqlite") as store:
        (run,) = store.runs()
    assert (run.board, run.backend, run.unit, run.model) == ("host", "host", "host nanoseconds", "default")
    assert run.fixtures[0].name == "scene-009" and run.fixtures[0].matched
    assert run.fixtures[0].latency["total"][0] > 0
