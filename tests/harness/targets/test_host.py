"""The host board (--board=host): the device firmware built with the host's cc, run as a process behind a pty,
speaking the real protocol. Results bit-exact with the reference, faults and reboots reported as a board reports
them, its ticks labelled host time, and no process left behind."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from harness.boards import board
from harness.build.firmware import build_firmware
from harness.compare.device import Reference
from harness.codegen.generate import generate
from harness.build.firmware import CACHE
from harness.dut import Dut, parse_board
from harness.errors import BoardsError, DeviceFault, DeviceRebooted, UsageError
from harness.model.modelfile import load
from harness.protocol.session import Session
from harness.targets.host import HostTarget
from tests.harness.targets.needs import alive

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"
LONG = 60.0


@pytest.fixture(scope="module")
def model():
    return load(ROOT / "fixtures" / "models" / "default.npz")


def image():
    return cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)


def test_the_host_board_runs_the_device_firmware_bit_exact_and_says_its_ticks_are_host_time(model):
    with Dut(parse_board("host"), model) as dut:
        assert (dut.info.board, dut.info.ticks, dut.info.model_id) == ("host", "host", model.model_id)
        assert dut.info.build_id == dut.build.info["build_id"] != ""  # the executable's own GNU note
        report = dut.run(image())
        latency = dut.latency(report)
    verdict = Reference(model, generate(model, CACHE / "generated" / model.model_id)).check(image(), report)
    assert verdict.match, verdict.problems
    assert latency["unit"] == "host nanoseconds" and latency["ms"] == pytest.approx(report.total_ticks / 1e6, 1e-3)
    assert board("host").tick_unit == "host nanoseconds" and not board("host").physical


def test_a_fault_in_a_layer_is_reported_as_a_board_reports_it_naming_the_layer_and_function(model):
    choice = parse_board("host").with_timeouts(boot=10.0, inference=LONG)
    with Dut(choice, model, defines=("RP_TEST_FAULT_LAYER=3",)) as dut:
        pid, start = dut.target.proc.pid, time.monotonic()
        with pytest.raises(DeviceFault) as err:
            dut.run(image())
        assert time.monotonic() - start < LONG / 2 and dut.target.proc.pid == pid  # at once: no reset or retry
        layer = dut.info.layers[3]
    assert f"HardFault in layer {layer}: precise data bus error (PRECISERR), at address 0x60000000" in str(err.value)
    assert re.search(r"; pc is in (hook|rp_app_infer)\b", str(err.value))  # the host ELF's symbol (hook may inline)


def test_a_reboot_mid_run_fails_at_once(model):
    choice = parse_board("host").with_timeouts(boot=10.0, inference=LONG)
    with Dut(choice, model, defines=("RP_TEST_REBOOT_LAYER=2",)) as dut:
        start = time.monotonic()
        with pytest.raises(DeviceRebooted, match=r"^host: the board rebooted during RUN"):
            dut.run(image())
        assert time.monotonic() - start < LONG / 2


def test_closing_the_link_ends_the_firmware_and_close_leaves_no_process(model):
    build = build_firmware(model, "host")
    target = HostTarget(board("host"))
    try:
        target.load(build.elf)
        Session(target.link).hello(10.0)
        proc = target.proc
        target.link.close()  # the harness's side of the pty gone: the firmware's reads fail, it leaves
        proc.wait(5.0)
        target.reset()
        pid = target.proc.pid
    finally:
        target.close()
    assert not alive(pid) and not Path(target.dir).exists()


def test_a_killed_harness_takes_the_firmware_with_it(model, tmp_path):
    elf = build_firmware(model, "host").elf
    script = ("import sys, time\nfrom harness.boards import board\nfrom harness.targets.host import HostTarget\n"
              f"t = HostTarget(board('host')); t.load({str(elf)!r}); print(t.proc.pid, flush=True); time.sleep(60)\n")
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    firmware = int(harness.stdout.readline())
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 5.0
    while alive(firmware) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(firmware)


def test_the_host_board_takes_no_port_and_builds_only_the_device_firmware(model, tmp_path):
    with pytest.raises(UsageError, match="board host is emulated \\(host\\); it takes no serial port or probe"):
        parse_board("host@/dev/ttyACM0")
    with pytest.raises(UsageError, match="runs the device firmware only"):
        build_firmware(model, "host", "selftest", image())
    path = tmp_path / "boards.yaml"
    path.write_text("host:\n  backend: host\n  mcu: STM32F405\n")
    with pytest.raises(BoardsError, match="board host: unknown key mcu; allowed: backend, timeouts"):
        board("host", path)
