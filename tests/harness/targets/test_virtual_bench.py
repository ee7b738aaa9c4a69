"""The virtual bench board: the unchanged PyocdTarget and Dut, through pyOCD's Session and FileProgrammer, driving a
``harness virtual-bench`` process whose flash and reset are QEMU's and whose UART is a pty.

Real: the bench process (started by its command), QEMU running the device firmware, the bytes crossing the pty,
pyOCD's probe listing, Session, FileProgrammer/FlashBuilder, and PyocdTarget's build-id skip, verify and reset.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyocd.core import exceptions

from harness.boards import board
from harness.build.firmware import build_firmware
from harness.compare.device import Reference
from harness.dut import Dut, parse_board
from harness.errors import TargetError
from harness.model.image import load_image
from harness.model.modelfile import load
from harness.protocol.session import Session
from harness.targets.pyocd_target import PyocdTarget, connected_probes
from harness.targets.serial_port import probe_serial_for_port
from harness.targets.virtual_probe import BenchChannel, VirtualProbe, registration_for_port
from tests.harness.targets.needs import EMULATOR, alive

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]
MODEL_PATH = ROOT / "fixtures" / "models" / "default.npz"
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"
BENCH = board("virtual-bench-f405")
HOLDER = """
import subprocess, sys
bench = subprocess.Popen([sys.executable, "-m", "harness", "virtual-bench", "--json"], stdout=subprocess.PIPE,
                         text=True)
print(bench.pid, bench.stdout.readline(), sep="\\n", end="", flush=True)
bench.wait()
"""


def quiet(fraction: float) -> None:
    """Flashing progress, not printed (pyOCD's default progress bar would write to stdout)."""


def start_bench(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "virtual-bench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    return proc, proc.stdout.readline()


@pytest.fixture
def bench():
    proc, line = start_bench("--json")
    info = json.loads(line)
    yield info
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def model():
    return load(MODEL_PATH)


def status(info: dict) -> dict:
    channel = BenchChannel(info["socket"], info["probe"])
    channel.open()
    try:
        return channel.call("status")
    finally:
        channel.close()


def test_the_pty_leads_to_the_bench_probe_and_board(bench):
    probe = next(p for p in connected_probes() if p.unique_id == bench["probe"])
    assert isinstance(probe, VirtualProbe) and probe.description == "harness virtual bench (QEMU)"
    assert probe_serial_for_port(bench["pty"]) == bench["probe"]
    assert parse_board(bench["pty"]).board.name == "virtual-bench-f405"  # a bare port: the probe names its board


def test_the_first_start_flashes_and_scene_009_matches_the_reference(bench, model):
    with Dut(parse_board(f"virtual-bench-f405@{bench['pty']}"), model) as dut:
        assert isinstance(dut.target, PyocdTarget) and dut.target.flashed is True
        assert dut.info.build_id == dut.build.info["build_id"] and dut.info.board == "virtual-bench-f405"
        image = load_image(SCENE, *model.input_hw)
        report = dut.run(image)
        assert Reference(model, dut.build.generated).check(image, report).match
    after = status(bench)
    assert after["boots"] == 1 and after["state"] == "running" and after["qemu"] == "running"


def test_a_second_start_finds_its_build_id_and_does_not_flash(bench, model):
    choice = parse_board(f"virtual-bench-f405@{bench['pty']}")
    with Dut(choice, model) as dut:
        assert dut.target.flashed is True
    with Dut(choice, model) as dut:
        assert dut.target.flashed is False
        assert dut.session.hello(5.0).build_id == dut.build.info["build_id"]
    assert status(bench)["boots"] == 2  # not flashed, but reset into the firmware again


def test_reset_restarts_the_firmware_with_a_fresh_banner(bench, model):
    with Dut(parse_board(f"virtual-bench-f405@{bench['pty']}"), model) as dut:
        dut.session.hello(5.0)
        dut.target.link.write(b"\x00garbage the old firmware never answers")
        dut.target.reset()
        session = Session(dut.target.link)
        info = session.hello(5.0)
        assert session.banners == 1 and info.build_id == dut.build.info["build_id"]  # the banner, nothing stale
        assert status(bench)["boots"] == 2


class HaltOnlyPyocdTarget(PyocdTarget):
    """The code before the silicon fix: it flashes a core that connecting merely halted, still on its PLL."""

    def _open_session(self):
        session = super()._open_session()
        session.target.reset_and_halt = session.target.halt
        return session


def test_flashing_a_core_that_was_only_halted_fails_verification(bench, model):
    running = build_firmware(model, "virtual-bench-f405", "device")
    other = build_firmware(model, "virtual-bench-f405", "device", dsp=False)  # another build id: must reflash
    with PyocdTarget(BENCH, bench["pty"], progress=quiet) as target:
        target.load(running.elf, running.info["build_id"])  # the board now runs a firmware (core on its PLL)
    with HaltOnlyPyocdTarget(BENCH, bench["pty"], progress=quiet) as target:
        # every byte of the first segment reads back wrong: the bench's FLASH_ACR = 0 at PLL speed
        with pytest.raises(TargetError, match=r"^flash verify failed at 0x08000000: .* \((\d+) of \1 bytes differ"):
            target.load(other.elf, other.info["build_id"])
    assert status(bench)["acr_zero"] is True
    with PyocdTarget(BENCH, bench["pty"], progress=quiet) as target:  # the writes were fine, only reads failed:
        target.load(other.elf, other.info["build_id"])                 # after a reset the build id reads back
        assert target.flashed is False
        assert Session(target.link).hello(5.0).build_id == other.info["build_id"]


def test_the_bench_flash_refuses_what_the_chip_refuses(bench):
    channel = BenchChannel(bench["socket"], bench["probe"])
    channel.open()
    try:
        with pytest.raises(exceptions.FlashFailure, match="the flash algorithm was not initialised"):
            channel.call("program", address=0x08000000, data="AAAA")
        channel.call("flash_init")
        channel.call("program", address=0x08000000, data="AAAA")  # three zero bytes
        with pytest.raises(exceptions.FlashFailure, match=r"programming 0x08000000: holds 0x00, not erased for 0x01"):
            channel.call("program", address=0x08000000, data="AQ==")
        with pytest.raises(exceptions.FlashFailure, match="not the start of a flash sector"):
            channel.call("erase_sector", address=0x08001000)
        channel.call("erase_sector", address=0x08000000)
        assert channel.call("read", address=0x08000000, length=4)["data"] == "/////w=="  # erased again
        with pytest.raises(exceptions.TransferFaultError, match="reads only flash"):
            channel.call("read", address=0x20000000, length=4)
    finally:
        channel.close()


def test_the_bench_and_its_qemu_die_with_their_parent(tmp_path, model):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    bench_pid, info = int(holder.stdout.readline()), json.loads(holder.stdout.readline())
    build = build_firmware(model, "virtual-bench-f405", "device")
    with PyocdTarget(BENCH, info["pty"], progress=quiet) as target:
        target.load(build.elf, build.info["build_id"])
    qemu_pid = status(info)["qemu_pid"]
    assert alive(bench_pid) and alive(qemu_pid) and registration_for_port(info["pty"]) is not None
    os.kill(holder.pid, signal.SIGKILL)  # no cleanup in the holder: only the kernel can tell the bench
    holder.wait()
    deadline = time.monotonic() + 10
    while (alive(bench_pid) or alive(qemu_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(bench_pid) and not alive(qemu_pid)
    assert registration_for_port(info["pty"]) is None and not os.path.exists(info["socket"])


def test_the_command_prints_the_pty_and_unregisters_on_sigterm():
    proc, line = start_bench()
    pty = line.strip()
    try:
        assert pty.startswith("/dev/pts/") and registration_for_port(pty)["probe"] == f"virtual-{proc.pid}"
    finally:
        proc.terminate()
    assert proc.wait(10) == 0 and registration_for_port(pty) is None
    assert "--board=virtual-bench-f405@/dev/pts/" in proc.stderr.read()


def test_the_command_refuses_a_board_that_is_not_a_virtual_bench():
    proc, line = start_bench("--board", "nucleo-f429zi")
    assert proc.wait(10) == 2 and line == ""
    assert proc.stderr.read().strip() == ("harness: error: board nucleo-f429zi is not a virtual bench board "
                                          "(boards.yaml needs backend: pyocd and emulator: qemu), e.g. --board "
                                          "virtual-bench-f405")


def test_doctor_on_the_bench_checks_the_probe_port_and_flashing_like_a_board(bench, model):
    from harness.doctor import FAIL, PASS, SKIP, diagnose

    checks = {c.name: c for c in diagnose(parse_board(f"virtual-bench-f405@{bench['pty']}"), model,
                                          load_image(str(SCENE), *model.input_hw))}
    assert not [c for c in checks.values() if c.status == FAIL], checks
    assert checks["probe and port"].status == PASS and bench["probe"] in checks["probe and port"].detail
    flashed = checks["flash and verify"]
    assert flashed.status == PASS and "flashed and read back equal" in flashed.detail
    assert checks["inference"].status == PASS and checks["clock"].status == SKIP  # QEMU behind it: no clock tree
