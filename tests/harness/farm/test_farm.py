"""The device suite over a labgrid farm of real processes on loopback (tests/harness/farm/loopback.py): places on
two exporters, one serial port through the exporter's ser2net (RFC 2217) and one raw TCP, flashing by the agent
beside each probe; sessions taking turns on one place, a killed session's place coming back after its lease, a
place taken away or its coordinator gone mid-session failing that session in one line. About 80 s of one worker
(nine pytest sessions), in the README's test command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.farm.coordinator import Coordinator
from harness.farm.lease import lease_of
from harness.history.store import open_store
from tests.harness.farm.loopback import BIN, BOARD, ROOT, LoopbackFarm
from tests.harness.targets.needs import EMULATOR
from tests.sessions import PYTEST

pytest.importorskip("labgrid", reason="the [farm] extra is not installed: pip install -e '.[farm]'")
pytestmark = [*EMULATOR,
              pytest.mark.skipif(not (shutil.which("ser2net") or Path("/usr/sbin/ser2net").exists()),
                                 reason="ser2net not installed: apt-get install ser2net")]

@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    with LoopbackFarm(tmp_path_factory.mktemp("farm")) as farm:
        yield farm


def session(farm, tmp_path: Path, board: str, select: str, *extra: str, name: str = "s") -> subprocess.Popen:
    """A pytest session running the device suite (``select``: a -k expression) on ``board`` of the farm."""
    argv = [*PYTEST, "-q", "tests/device", "-k", select,
            f"--board={board}", "--lg-coordinator", farm.address, "--history", str(tmp_path / f"{name}.sqlite"),
            *extra]
    # SIGINT as a terminal delivers it: an xdist worker (this test's parent) ignores it, and children inherit that
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def fixtures_ran_on(history: Path) -> list[dict]:
    with open_store(history) as store:
        return [f.ran_on for run in store.runs() for f in run.fixtures]


def wait_acquired(farm, place: str, timeout: float = 60) -> None:
    with Coordinator(farm.address) as client:
        deadline = time.monotonic() + timeout
        while not lease_of(client.places()[place]):
            assert time.monotonic() < deadline, f"{place} was never acquired"
            time.sleep(0.2)


def test_the_device_suite_runs_bit_exact_over_both_exporters(farm, tmp_path):
    code, out = finish(session(farm, tmp_path, f"labgrid:board={BOARD}",
                               "scene-000 or scene-009", "-n", "2"))  # a scene per worker, so one per place
    assert code == 0, out
    ran_on = fixtures_ran_on(tmp_path / "s.sqlite")
    assert len(ran_on) == 2 and {r["place"] for r in ran_on} == {farm.places["a"]["place"], "farm-b"}
    assert {(r["exporter"], r["probe"]) for r in ran_on} == {
        ("host-a", farm.places["a"]["probe"]), ("host-b", farm.places["b"]["probe"])}
    assert "ran on (place, exporter, probe)" in out and f"{farm.places['a']['place']}, host-a" in out  # summary
    assert "rfc2217://" in out or "socket://" in out
    with Coordinator(farm.address) as client:  # both given back
        assert all(p.acquired is None for p in client.places().values())


def test_two_sessions_for_one_tag_take_turns(farm, tmp_path):
    first = session(farm, tmp_path, "labgrid:host=a", "scene-009", name="first")
    place = farm.places["a"]["place"]
    wait_acquired(farm, place)
    second = session(farm, tmp_path, "labgrid:host=a", "scene-009", name="second")
    (code1, out1), (code2, out2) = finish(first), finish(second)
    assert code1 == 0 and code2 == 0, out1 + out2
    assert f"waiting for a place for labgrid:host=a: held by {place}" in out2
    assert {r["place"] for r in fixtures_ran_on(tmp_path / "second.sqlite")} == {place}


def test_a_killed_session_frees_its_place_once_its_lease_runs_out(farm, tmp_path):
    doomed = session(farm, tmp_path, "labgrid:host=b", "scene", "--farm-lease", "4", name="doomed")
    wait_acquired(farm, "farm-b")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    start = time.monotonic()
    code, out = finish(session(farm, tmp_path, "labgrid:host=b", "scene-000", name="next"))
    assert code == 0, out
    assert "the lease of" in out and "ran out" in out and time.monotonic() - start < 90


def test_ctrl_c_gives_the_place_back(farm, tmp_path):
    interrupted = session(farm, tmp_path, "labgrid:host=b", "scene", name="interrupted")
    wait_acquired(farm, "farm-b")
    os.killpg(interrupted.pid, signal.SIGINT)
    code, out = finish(interrupted)
    assert code == 2 and "KeyboardInterrupt" in out, out
    with Coordinator(farm.address) as client:
        place = client.places()["farm-b"]
    assert place.acquired is None and not lease_of(place), place


def test_a_place_taken_away_mid_session_fails_that_session_in_one_line(farm, tmp_path):
    victim = session(farm, tmp_path, "labgrid:host=a", "scene", "--farm-lease", "3", name="victim")
    place = farm.places["a"]["place"]
    wait_acquired(farm, place)
    with Coordinator(farm.address) as client:
        token = lease_of(client.places()[place])[1]
    thief = {**os.environ, "LG_USERNAME": "thief", "LG_COORDINATOR": farm.address}

    def as_thief(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "labgrid-client"), *command], env=thief, capture_output=True, text=True,
                              timeout=30)

    assert as_thief("-p", place, "release", "--kick").returncode == 0
    as_thief("cancel-reservation", token)  # unless the victim, seeing the place gone, has cancelled it already
    assert as_thief("-p", place, "acquire").returncode == 0
    try:
        code, out = finish(victim)
    finally:
        as_thief("-p", place, "release")
    assert code != 0
    lines = out.splitlines()
    assert f"! Interrupted: labgrid:host=a: place {place} was taken away mid-session (now held by" in out, out
    assert not any(line.startswith("E  ") or "Traceback" in line or "During handling" in line
                   for line in lines), out  # one line, no traceback


def test_a_coordinator_gone_mid_session_fails_that_session_in_one_line(farm, tmp_path):
    """Last in this module: the farm has no coordinator after it."""
    victim = session(farm, tmp_path, "labgrid:host=b", "scene", "--farm-lease", "3", name="orphan")
    wait_acquired(farm, "farm-b")
    farm.kill_coordinator()
    gone = time.monotonic()
    code, out = finish(victim, timeout=120)
    assert code != 0 and time.monotonic() - gone < 15, out  # not after a request's 20 s timeout
    assert "! Interrupted: labgrid:host=b: place farm-b lost: " in out and "labgrid-coordinator" in out, out
    assert not any(line.startswith("E  ") or "Traceback" in line or "During handling" in line
                   or "Captured log" in line for line in out.splitlines()), out
