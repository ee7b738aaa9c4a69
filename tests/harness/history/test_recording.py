"""The end of a session without the board: a run stored and gated against each kind of baseline (auto with and
without a committed file, a .json, a git ref's latest run, none), and the failures the session reports in one line
instead of a traceback (an unreachable store, a missing required baseline, an unknown ref)."""

import dataclasses
import subprocess

import pytest

from harness.history.baseline import baseline_path, write_baseline
from harness.history.recording import finish, outcome_lines, resolve_baseline
from harness.history.store import open_store
from tests.harness.history.test_gate import make_run


def test_auto_without_a_committed_file_records_and_says_how_to_make_one(tmp_path):
    outcome = finish(make_run(), str(tmp_path / "h.sqlite"), True, "auto", baselines=tmp_path / "baselines")
    assert outcome.stored.startswith("run #1 in ") and outcome.gate is None and not outcome.problems
    lines = outcome_lines(outcome)
    assert any("not gated: no baseline for qemu-stm32f405/face-rnnpool" in x and "harness baseline update" in x
               for x in lines)


def test_auto_with_a_committed_file_gates_and_names_the_regression(tmp_path):
    baselines = tmp_path / "baselines"
    write_baseline(make_run(), baseline_path("qemu-stm32f405", "face-rnnpool", baselines))
    slower = make_run(seed=1, scale={"mb1": 1.02})
    outcome = finish(slower, None, False, "auto", baselines=baselines)
    assert outcome.regressed and outcome.stored == ""
    text = "\n".join(outcome_lines(outcome))
    assert "latency.layer.mb1" in text and "the session fails" in text and "not recorded" in text
    same = finish(make_run(seed=2), None, False, "auto", baselines=baselines)
    assert same.gate.ok and "no regression in" in "\n".join(outcome_lines(same))


def test_a_json_file_and_none(tmp_path):
    path = write_baseline(make_run(arena_bytes=100000), tmp_path / "b.json")
    outcome = finish(make_run(), None, False, str(path))
    assert [f.metric for f in outcome.gate.regressions] == ["memory.arena_bytes"]
    assert finish(make_run(), None, False, "none").gate is None


def test_a_git_ref_takes_its_latest_recorded_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "a@b"], ["config", "user.name", "a"],
                 ["commit", "-q", "--allow-empty", "-m", "one"]):
        subprocess.run(["git", *args], check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    with open_store(tmp_path / "h.sqlite") as store:
        store.add(make_run(commit=sha, arena_bytes=90000))
        latest = store.add(make_run(commit=sha))
        store.add(make_run(commit="f" * 40, arena_bytes=1))  # not on main: never the baseline
        found = resolve_baseline("main", make_run(seed=3), store)
    assert found.run.id == latest and found.source.startswith(f"run #{latest} on main")
    outcome = finish(make_run(seed=3), str(tmp_path / "h.sqlite"), True, "main")
    assert outcome.gate.ok, outcome_lines(outcome)


@pytest.mark.parametrize("history, baseline, said", [
    ("postgresql://nobody@127.0.0.1:1/none", "none", "cannot reach PostgreSQL"),
    (None, "file", "no baseline for qemu-stm32f405/face-rnnpool"),
    ("{tmp}/h.sqlite", "no-such-ref", "neither a file nor a git ref"),
])
def test_failures_come_back_as_one_line_problems(tmp_path, monkeypatch, history, baseline, said):
    monkeypatch.chdir(tmp_path)
    history = history.format(tmp=tmp_path) if history else None
    outcome = finish(make_run(), history, history is not None, baseline, baselines=tmp_path / "none")
    assert len(outcome.problems) == 1 and said in outcome.problems[0], outcome.problems
    assert "\n" not in outcome.problems[0] and not outcome.regressed
    assert any(line.startswith("problem: ") for line in outcome_lines(outcome))


def test_a_run_restricted_to_common_fixtures_is_still_gated(tmp_path):
    base = make_run(fixtures=5)
    run = dataclasses.replace(make_run(seed=1, fixtures=2), ap50=None)
    path = write_baseline(base, tmp_path / "b.json")
    outcome = finish(run, None, False, str(path))
    assert outcome.gate.ok and any("2 fixtures both runs have" in n for n in outcome.gate.notes), outcome.gate.notes


def test_a_board_on_its_fallback_clock_is_recorded_apart_and_never_gated_with_normal_runs():
    from types import SimpleNamespace

    from harness.boards import board
    from harness.history.collect import run_context
    from harness.protocol.session import DeviceInfo
    from tests.harness.protocol.test_session import hello_payload

    def context(fallback: bool) -> dict:
        info = DeviceInfo.parse(hello_payload(clock="16000000", clock_status="hse-timeout"))
        dut = SimpleNamespace(board=board("nucleo-f429zi"), clock_fallback=fallback, info=info,
                              target=SimpleNamespace(describe=lambda: "pyOCD stlink:X"), model=SimpleNamespace(
                                  model_id="m0"), build=SimpleNamespace(info={
                                      "build_id": "b", "dsp": True, "compiler": "gcc", "flash_bytes": 1,
                                      "ram_bytes": 1, "arena_bytes": 1}))
        return run_context(dut, "default", 3)

    assert context(False)["board"] == "nucleo-f429zi"
    assert context(True)["board"] == "nucleo-f429zi+clock-16MHz-hse-timeout"  # its own baseline key and history
