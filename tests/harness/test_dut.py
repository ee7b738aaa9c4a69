"""harness.dut on QEMU: a hung firmware is reset once and the run retried, a second hang fails saying so, a
firmware of another model is refused naming both; and --board parsing with its one-line errors."""

import os
import signal
from pathlib import Path

import cv2
import pytest

from harness.boards import board
from harness.dut import BoardChoice, Dut, parse_board
from harness.errors import HarnessError, MismatchError, TargetTimeout, UsageError
from harness.model.modelfile import load
from tests.harness.targets.needs import needs_emulator

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"


def test_board_specs():
    assert parse_board("qemu-stm32f405") == BoardChoice(board("qemu-stm32f405"))
    real = parse_board("nucleo-f429zi@/dev/ttyACM7")
    assert (real.board.name, real.port, str(real)) == ("nucleo-f429zi", "/dev/ttyACM7", "nucleo-f429zi@/dev/ttyACM7")
    with pytest.raises(UsageError, match="give its serial port too"):
        parse_board("nucleo-f439zi")
    with pytest.raises(UsageError, match="takes no serial port"):
        parse_board("qemu-stm32f405@/dev/ttyACM0")
    with pytest.raises(HarnessError, match="no-such-board"):
        parse_board("no-such-board")


def test_a_bare_port_that_is_no_st_link_is_a_one_line_error():
    master, slave = os.openpty()
    try:
        with pytest.raises(HarnessError) as err:
            parse_board(os.ttyname(slave))
        assert "\n" not in str(err.value) and os.ttyname(slave) in str(err.value)
    finally:
        os.close(master)
        os.close(slave)


def _freeze(dut: Dut) -> None:
    os.kill(dut.target.proc.pid, signal.SIGSTOP)  # the emulator stops dead: a hung firmware


@pytest.fixture
def dut():
    choice = parse_board("qemu-stm32f405").with_timeouts(boot=2.0, inference=10.0)
    with Dut(choice, load(ROOT / "fixtures" / "models" / "default.npz")) as dut:
        dut.session.reply_timeout, dut.session.retries = 0.2, 2
        yield dut


@needs_emulator
def test_a_hung_firmware_is_reset_once_and_the_run_retried(dut):
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    first = dut.run(image)
    old_pid = dut.target.proc.pid
    _freeze(dut)
    again = dut.run(image)
    assert dut.target.proc.pid != old_pid  # restarted, not waited out
    assert again.layers == first.layers


@needs_emulator
def test_a_firmware_that_hangs_again_after_the_reset_fails_saying_so(dut, monkeypatch):
    reset = dut.target.reset

    def reset_and_hang_again():
        reset()
        _freeze(dut)

    monkeypatch.setattr(dut.target, "reset", reset_and_hang_again)
    _freeze(dut)
    with pytest.raises(TargetTimeout, match="hung again after a reset and retry"):
        dut.run(cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE))


@needs_emulator
def test_a_firmware_of_another_model_is_refused_naming_both(dut):
    from harness.model.random_init import random_model

    other = random_model(seed=3, height=48, width=64)
    running = dut.model.model_id
    dut.model = other
    with pytest.raises(MismatchError) as err:
        dut._handshake()
    assert running in str(err.value) and other.model_id in str(err.value)


@needs_emulator
def test_the_device_measure_for_calibration_equals_the_self_test_counts():
    from harness.compare.latency import resized, selftest_measure
    from harness.dut import device_measure

    model = resized(load(ROOT / "fixtures" / "models" / "default.npz"), 96, 128)
    image = cv2.resize(cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE), (128, 96), interpolation=cv2.INTER_AREA)
    over_the_link = device_measure(parse_board("qemu-stm32f405"))(model, image)
    assert over_the_link == selftest_measure("qemu-stm32f405")(model, image) and over_the_link["rnnpool"] > 0
