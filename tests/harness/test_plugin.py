"""The pytest plugin from the outside: a user's test file run by a separate pytest (the plugin loads through its
``pytest11`` entry point). Without --board device tests skip with the reason; with --board=qemu-stm32f405 under
``-n 2`` they run, latency and memory land in junit properties and the terminal summary; a layer slower than its
calibrated prediction fails, named. The plumbing runs on the host board; the latency model needs QEMU's counts."""

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.harness.targets.needs import needs_emulator
from tests.sessions import PYTEST

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = '''
import pytest

pytestmark = pytest.mark.device


def test_image(dut, reference, labelled_image, record_device_run, latency_budget):
    image = labelled_image.image()
    report = dut.run(image)
    record_device_run(report, latency_budget)
    assert reference.check(image, report).match
    slow = latency_budget.over(report)
    assert not slow, "; ".join(slow)
'''


def _project(tmp_path: Path, scenes: int) -> Path:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    fixtures = tmp_path / "images" / "scenes"
    fixtures.mkdir(parents=True)
    for i in range(scenes):
        for ext in ("png", "json"):
            shutil.copy(ROOT / "fixtures" / "scenes" / f"scene-00{i}.{ext}", fixtures)
    return tmp_path


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTEST, "-ra",
                           "--fixtures-dir", str(project / "images"), *args], cwd=project, capture_output=True,
                          text=True, timeout=600)


def test_without_a_board_device_tests_skip_with_the_reason(tmp_path):
    run = _pytest(_project(tmp_path, 2))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout and "needs --board (e.g. pytest --board=qemu-stm32f405" in run.stdout


def test_on_the_host_board_with_two_workers_latency_and_memory_are_reported_as_host_figures(tmp_path):
    project = _project(tmp_path, 3)
    run = _pytest(project, "--board=host", "-n", "2", "--junitxml", str(project / "junit.xml"), "--no-history")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "3 fixture(s), not recorded" in run.stdout and not (project / ".harness").exists()
    assert "3 passed" in run.stdout and "harness: latency and memory per run" in run.stdout
    assert "3 runs: host nanoseconds min" in run.stdout and "stack high-water max 0 B" in run.stdout
    assert "no latency calibration for board host" in run.stdout  # host time is never held to a board's model
    cases = ET.parse(project / "junit.xml").getroot().iter("testcase")
    props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert len(props) == 3
    for p in props:
        assert int(p["harness.latency"]) > 0 and p["harness.unit"] == "host nanoseconds"
        assert int(p["harness.arena_bytes"]) > 0 and int(p["harness.layer.rnnpool"]) > 0
        assert p["harness.board"] == "host" and "host process" in p["harness.runs_on"]
        assert not any(k.startswith("harness.predicted.") for k in p)


@needs_emulator
def test_a_layer_over_its_predicted_latency_fails_naming_it(tmp_path):
    project = _project(tmp_path, 1)
    run = _pytest(project, "--board=qemu-stm32f405", "--latency-margin=-0.5")  # demand half the prediction
    assert run.returncode == 1
    assert f"recorded as run #1 in {project / '.harness' / 'history.sqlite'}" in run.stdout  # failures included
    assert "layer stem took" in run.stdout and "against its prediction" in run.stdout
