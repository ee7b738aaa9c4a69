"""Progress of a device session: a line per finished device test with the count and the time left, from the
controller (so it works under xdist), quiet under -qq. The device tests here use no board fixture, so nothing is
built or booted: ``--board`` only makes them run. And the status printer the CLI and the plugin share (Progress)."""

import io
import subprocess

from harness.progress import Eta, Progress, duration
from tests.sessions import PYTEST

DEVICE_TESTS = '''
import pytest

pytestmark = pytest.mark.device


@pytest.mark.parametrize("i", range(4))
def test_device(i):
    pass
'''


def test_duration_reads_like_a_person_would_say_it():
    assert [duration(s) for s in (0, 44.6, 89, 95, 3599, 3600, 3930)] == [
        "0 s", "45 s", "89 s", "2 min", "1 h 00 min", "1 h 00 min", "1 h 06 min"]


def test_eta_leaves_out_the_first_step_which_carries_the_build_and_boot():
    now = [0.0]
    eta = Eta(5, clock=lambda: now[0])
    now[0] = 600.0                                       # build and boot, then the first image
    assert eta.step() == "1/5 done, estimating the time left"
    now[0] = 620.0
    assert eta.step() == "2/5 done, about 60 s left"     # 20 s per step, 3 to go
    now[0] = 660.0
    assert eta.step() == "3/5 done, about 60 s left"
    now[0] = 680.0
    eta.step()
    assert eta.step() == "5/5 done"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_printer_says_counts_and_warns_even_when_quiet():
    log, quiet, live = io.StringIO(), io.StringIO(), _Terminal()
    for stream, is_quiet in ((log, False), (quiet, True), (live, False)):
        p = Progress(stream, quiet=is_quiet)
        p.say("building …")
        for k in (1, 2):
            p.count(k, 2, f"scene-{k}")
        p.warn("harness: the device disagrees")
    assert log.getvalue() == "building …\nharness: the device disagrees\n"  # a log gets no redrawn counts
    assert quiet.getvalue() == "harness: the device disagrees\n"
    assert live.getvalue() == ("building …\n\r  1/2 scene-1" + " " * 23 + "\r  2/2 scene-2" + " " * 23 + "\n"
                               "harness: the device disagrees\n")


def _run(tmp_path, *args):
    (tmp_path / "test_dev.py").write_text(DEVICE_TESTS)
    (tmp_path / "test_host.py").write_text("def test_host():\n    pass\n")
    return subprocess.run([*PYTEST, "--board=qemu-stm32f405",
                           "--no-history", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def _progress(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("harness: ")]


def test_a_line_per_device_test_under_q(tmp_path):
    run = _run(tmp_path, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = _progress(run.stdout)
    assert lines[0] == "harness: 1/4 device tests done, estimating the time left"
    assert lines[1].startswith("harness: 2/4 device tests done, about ") and lines[1].endswith(" left")
    assert lines[-1] == "harness: 4/4 device tests done" and len(lines) == 4   # the host test is not counted


def test_progress_under_xdist_and_none_under_qq(tmp_path):
    run = _run(tmp_path, "-q", "-n", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(_progress(run.stdout)) == 4 and _progress(run.stdout)[-1] == "harness: 4/4 device tests done"
    run = _run(tmp_path, "-qq")
    assert run.returncode == 0 and _progress(run.stdout) == []
