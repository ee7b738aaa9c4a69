"""The pytest plugin refuses a bad option value at configure time, before any build or boot: one
``ERROR: --option …`` line on stderr, exit status 4 (pytest's usage error), nothing collected or run. Every
case is a separate ``python -m pytest`` on a one-test device file; none reaches an emulator."""

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.sessions import PYTEST

ROOT = Path(__file__).resolve().parents[2]

DEVICE_TEST = '''
import pytest

pytestmark = pytest.mark.device


def test_image(dut, labelled_image):
    raise AssertionError("a device test ran")
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "test_device.py").write_text(DEVICE_TEST)
    scenes = tmp_path / "images" / "scenes"
    scenes.mkdir(parents=True)
    for ext in ("png", "json"):
        shutil.copy(ROOT / "fixtures" / "scenes" / f"scene-000.{ext}", scenes)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "not-a-model.npz").write_text("text")
    return tmp_path


def _refused(project: Path, *args: str) -> str:
    """Run pytest with ``args``; assert the plugin's one-line refusal and return that line."""
    run = subprocess.run([*PYTEST, "-q", "--fixtures-dir",
                          str(project / "images"), *args], cwd=project, capture_output=True, text=True, timeout=60)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("ERROR: --"), run.stderr
    assert run.stdout == "" and "Exit" not in run.stderr  # nothing collected, built or booted
    return lines[0]


@pytest.mark.parametrize("args,says", [
    (("--latency-margin=-5",), "ERROR: --latency-margin -5: give a fraction above -1"),
    (("--latency-margin=nan",), "ERROR: --latency-margin nan: give a fraction above -1"),
    (("--repeats=-1",), "ERROR: --repeats -1: give at least 1"),
    (("--repeats=0",), "ERROR: --repeats 0: give at least 1"),
    (("--baud=0",), "ERROR: --baud 0: give a positive baud rate"),
    (("--baud=-9600",), "ERROR: --baud -9600: give a positive baud rate"),
    (("--boot-timeout=0",), "ERROR: --boot-timeout 0: give a positive number of seconds"),
    (("--inference-timeout=-1",), "ERROR: --inference-timeout -1: give a positive number of seconds"),
    (("--farm-lease=-1",), "ERROR: --farm-lease -1: give a positive number of seconds"),
    (("--farm-wait=nan",), "ERROR: --farm-wait nan: give a positive number of seconds"),
    (("--codec=jpeg",), "ERROR: --codec jpeg: not a codec (one of: raw, rows)"),
], ids=lambda v: v[0] if isinstance(v, tuple) else "")
def test_bad_numbers_are_refused_with_or_without_a_board(project, args, says):
    assert _refused(project, *args).startswith(says)
    assert _refused(project, "--board=qemu-stm32f405", *args).startswith(says)


def test_a_bad_model_is_reported_once_not_per_test(project):
    line = _refused(project, "--board=qemu-stm32f405", "--model", str(project / "missing.npz"))
    assert line.startswith(f"ERROR: --model: model file {project / 'missing.npz'} not found")
    line = _refused(project, "--board=qemu-stm32f405", "--model", "not-a-model.npz")
    assert line.startswith("ERROR: --model: not-a-model.npz is not a harness model file")


def test_bad_fixtures_dir_and_boards(project):
    assert _refused(project, "--fixtures-dir", str(project / "nowhere")).startswith(
        f"ERROR: --fixtures-dir: fixture directory {project / 'nowhere'} not found")
    assert _refused(project, "--board=no-such-board").startswith(
        "ERROR: --board=no-such-board: unknown board 'no-such-board'")
    assert _refused(project, "--boards-file", "missing.yaml").startswith("ERROR: --boards-file: ")
    assert _refused(project, "--board=qemu-stm32f405", "--board=renode-stm32f4", "--probe=066DFF").startswith(
        "ERROR: --probe names one board's probe")


def test_an_unusable_history_store_is_refused_before_the_session(project):
    line = _refused(project, "--board=qemu-stm32f405", "--history", "a-file/history.sqlite")
    assert line.startswith("ERROR: --history: the history a-file/history.sqlite cannot be") and "a-file" in line
    (project / "corrupt.sqlite").write_bytes(b"not a database" * 100)
    assert "corrupt.sqlite" in _refused(project, "--board=qemu-stm32f405", "--history", "corrupt.sqlite")
    pytest.importorskip("psycopg")
    line = _refused(project, "--board=qemu-stm32f405", "--history", "postgresql://nobody@127.0.0.1:1/none")
    assert line.startswith("ERROR: --history: cannot reach PostgreSQL")


def test_a_bad_baseline_is_refused_before_the_session(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0"],
                   cwd=project, check=True)
    board = "--board=qemu-stm32f405"
    assert _refused(project, board, "--baseline=no-such-ref").startswith(
        "ERROR: --baseline no-such-ref: neither auto, file, none, a baseline .json nor a git ref")
    assert _refused(project, board, "--baseline=missing.json").startswith(
        "ERROR: --baseline missing.json: no such baseline file")
    line = _refused(project, board, "--baseline=file")
    assert line.startswith("ERROR: --baseline=file: no baseline") and "qemu-stm32f405/default.json" in line
    assert _refused(project, board, "--baseline=HEAD", "--no-history").startswith(
        "ERROR: --baseline HEAD is a git ref, which needs the history")


def test_without_a_board_the_store_and_baseline_are_not_checked(project):
    """Nothing will be recorded or gated: a session without --board is not refused for them."""
    run = subprocess.run([*PYTEST, "-q", "--history",
                          "a-file/x.sqlite", "--baseline=nonsense"], cwd=project, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and " skipped in " in run.stdout, run.stdout + run.stderr
