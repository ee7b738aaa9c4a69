"""harness.dut on QEMU: a hung firmware is reset once and the run retried, a second hang fails saying so, a
firmware of another model is refused naming both; and --board parsing with its one-line errors."""

import os
import signal
from pathlib import Path

import cv2
import pytest

import time
from types import SimpleNamespace

from harness.boards import board
from harness.dut import BoardChoice, Dut, clock_problem, parse_board
from harness.errors import (ClockError, DeviceFault, DeviceRebooted, HarnessError, MismatchError, TargetTimeout,
                            UsageError)
from harness.model.modelfile import load
from harness.protocol.session import DeviceInfo
from tests.harness.protocol.test_session import DeviceDouble, hello_payload
from tests.harness.targets.needs import needs_emulator

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"
LONG = 240.0  # an inference timeout no run here comes near, even on a loaded machine (uploads then take ~20 s)


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


def test_a_probe_is_named_in_the_spec_on_the_command_line_or_in_boards_yaml():
    adapter = parse_board("stm32f4-discovery@/dev/ttyUSB0,probe=066DFF485550755187121723")
    assert (adapter.port, adapter.probe_id) == ("/dev/ttyUSB0", "066DFF485550755187121723")
    assert parse_board("stm32f4-discovery@/dev/ttyUSB0", probe="0671FF").probe_id == "0671FF"
    assert parse_board("nucleo-f429zi@/dev/ttyACM0").probe_id is None  # found from the port's USB serial
    with pytest.raises(UsageError, match=r"only ,probe=ID is understood"):
        parse_board("stm32f4-discovery@/dev/ttyUSB0,speed=9")
    with pytest.raises(UsageError, match="takes no serial port or probe"):
        parse_board("qemu-stm32f405,probe=0671FF")


def test_the_probe_reaches_the_pyocd_target(tmp_path):
    path = tmp_path / "boards.yaml"
    path.write_text(board("stm32f4-discovery").profile and (ROOT / "boards.yaml").read_text()
                    .replace("  watchdog_s: 4\n# A virtual", "  watchdog_s: 4\n  probe: FROMYAML\n# A virtual"))
    from_yaml = parse_board("stm32f4-discovery@/dev/ttyUSB0", path)
    assert from_yaml.probe_id == "FROMYAML"
    assert parse_board("stm32f4-discovery@/dev/ttyUSB0,probe=GIVEN", path).probe_id == "GIVEN"  # the spec wins


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
    os.kill(dut.target.proc.pid, signal.SIGSTOP)  # the firmware's process stops dead: a hung firmware


@pytest.fixture
def dut():
    """The host board: the Dut's recovery and checks are the same on every board, and it starts in a second."""
    choice = parse_board("host").with_timeouts(boot=2.0, inference=10.0)
    with Dut(choice, load(ROOT / "fixtures" / "models" / "default.npz"), link_budget=2.0) as dut:
        yield dut


def test_a_hung_firmware_is_reset_once_and_the_run_retried(dut):
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    first = dut.run(image)
    old_pid = dut.target.proc.pid
    _freeze(dut)
    again = dut.run(image)
    assert dut.target.proc.pid != old_pid  # restarted, not waited out
    assert [(x.name, x.crc) for x in again.layers] == [(x.name, x.crc) for x in first.layers]  # host ticks vary


def test_a_firmware_that_hangs_again_after_the_reset_fails_saying_so(dut, monkeypatch):
    reset = dut.target.reset

    def reset_and_hang_again():
        reset()
        _freeze(dut)

    monkeypatch.setattr(dut.target, "reset", reset_and_hang_again)
    _freeze(dut)
    with pytest.raises(TargetTimeout, match="hung again after a reset and retry"):
        dut.run(cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE))


def test_a_firmware_of_another_model_is_refused_naming_both(dut):
    from harness.model.random_init import random_model

    other = random_model(seed=3, height=48, width=64)
    running = dut.model.model_id
    dut.model = other
    with pytest.raises(MismatchError) as err:
        dut._handshake()
    assert running in str(err.value) and other.model_id in str(err.value)


@pytest.mark.slow  # two QEMU runs of the same image; `harness calibrate` takes either
@needs_emulator
def test_the_device_measure_for_calibration_equals_the_self_test_counts():
    from harness.latency import resized, selftest_measure
    from harness.dut import device_measure

    model = resized(load(ROOT / "fixtures" / "models" / "default.npz"), 96, 128)
    image = cv2.resize(cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE), (128, 96), interpolation=cv2.INTER_AREA)
    over_the_link = device_measure(parse_board("qemu-stm32f405"))(model, image)
    assert over_the_link == selftest_measure("qemu-stm32f405")(model, image) and over_the_link["rnnpool"] > 0


def test_a_board_whose_clock_fell_back_is_named_with_both_clocks():
    nucleo = board("nucleo-f429zi")
    fell_back = DeviceInfo.parse(hello_payload(clock="16000000", clock_status="hse-timeout"))
    assert clock_problem(nucleo, fell_back) == ("runs at 16 MHz (clock status hse-timeout), but boards.yaml says "
                                                "180 MHz (pll)")
    no_overdrive = DeviceInfo.parse(hello_payload(clock="168000000", clock_status="pll-no-overdrive"))
    assert "168 MHz (clock status pll-no-overdrive)" in clock_problem(nucleo, no_overdrive)
    assert clock_problem(nucleo, DeviceInfo.parse(hello_payload())) == ""
    assert clock_problem(board("qemu-stm32f405"), fell_back) == ""  # QEMU models no RCC: nothing to compare


@pytest.fixture
def bench_double():
    """Dut for nucleo-f429zi whose link is a pty with the protocol-speaking device double on the other end."""
    import serial

    opened = []

    def make(allow: bool = False, **hello) -> Dut:
        master, slave = os.openpty()
        path = os.ttyname(slave)
        port = serial.Serial(path, 115200, timeout=0.2)
        os.close(slave)
        device = DeviceDouble(master, lambda seq: b"", **hello)
        device.start()
        opened.append((device, port, master))
        dut = Dut(BoardChoice(board("nucleo-f429zi"), path), SimpleNamespace(model_id="m0"),
                  allow_clock_fallback=allow)
        dut.build, dut.target = SimpleNamespace(info={"build_id": "b0"}), SimpleNamespace(link=port)
        return dut

    yield make
    for device, port, master in opened:
        device.stop.set()
        port.close()
        os.close(master)


def test_a_board_on_its_fallback_clock_fails_the_handshake_unless_allowed(bench_double):
    dut = bench_double(clock="16000000", clock_status="hse-timeout")
    with pytest.raises(ClockError) as err:
        dut._handshake()
    message = str(err.value)
    assert message.startswith("nucleo-f429zi@/dev/pts/") and "runs at 16 MHz (clock status hse-timeout)" in message
    assert "boards.yaml says 180 MHz" in message and "--allow-clock-fallback" in message and "\n" not in message
    allowed = bench_double(allow=True, clock="16000000", clock_status="hse-timeout")
    allowed._handshake()
    assert allowed.clock_fallback


@needs_emulator
def test_a_fault_in_a_layer_fails_the_run_at_once_naming_the_layer_and_the_cause():
    # A long inference timeout: were the fault not recognised, the run would wait it out, then reset and retry.
    choice = parse_board("qemu-stm32f405").with_timeouts(boot=5.0, inference=LONG)
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    with Dut(choice, load(ROOT / "fixtures" / "models" / "default.npz"), defines=("RP_TEST_FAULT_LAYER=3",)) as dut:
        pid, start = dut.target.proc.pid, time.monotonic()
        with pytest.raises(DeviceFault) as err:
            dut.run(image)
        assert time.monotonic() - start < LONG / 2 and dut.target.proc.pid == pid  # at once: no reset or retry
        layer = dut.info.layers[3]
    assert f"HardFault in layer {layer}: precise data bus error (PRECISERR), at address 0x60000000" in str(err.value)
    assert str(err.value).endswith("; pc is in hook (rp_app.c)")  # named from the ELF by addr2line (inlined)


@pytest.mark.slow  # the host board's reboot runs by default (tests/harness/targets/test_host.py)
@needs_emulator
def test_a_reboot_mid_run_fails_at_once_with_the_reset_cause():
    choice = parse_board("qemu-stm32f405").with_timeouts(boot=5.0, inference=LONG)
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    with Dut(choice, load(ROOT / "fixtures" / "models" / "default.npz"), defines=("RP_TEST_REBOOT_LAYER=2",)) as dut:
        start = time.monotonic()
        with pytest.raises(DeviceRebooted, match=r"^qemu-stm32f405: the board rebooted during RUN; reset cause: none "
                                                 r"reported"):
            dut.run(image)
        assert time.monotonic() - start < LONG / 2  # recognised at once, not after the inference timeout


def test_a_pack_that_does_not_exist_is_refused_before_any_build(tmp_path):
    dut = Dut(parse_board("stm32f4-discovery@/dev/ttyUSB0"), SimpleNamespace(model_id="m0"),
              target_options={"pack": str(tmp_path / "Keil.STM32F4xx_DFP.2.17.1.pack")})
    with pytest.raises(UsageError, match=r"^CMSIS pack .*Keil\.STM32F4xx_DFP\.2\.17\.1\.pack not found "
                                         r"\(target stm32f407vgtx\)"):
        dut.start()  # the preflight, before build_firmware
    assert dut.build is None
