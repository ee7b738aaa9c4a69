"""``harness build`` front-end behaviour that needs no emulator: missing toolchain and bad arguments give one
clear line; firmware.json says what was built."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc: apt-get "
                               "install gcc-arm-none-eabi libnewlib-arm-none-eabi")


def _harness(args, path_env=None):
    env = {"PATH": path_env} if path_env is not None else None
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=False)


def test_missing_toolchain_is_one_line_with_the_install_command(tmp_path):
    run = _harness(["build"], path_env=str(tmp_path))  # an empty PATH: no arm-none-eabi-gcc
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in run.stderr  # the progress line, then the error
    assert "arm-none-eabi-gcc not found" in lines[-1] and "apt-get install gcc-arm-none-eabi" in lines[-1]


def test_unknown_board_names_the_known_ones():
    run = _harness(["build", "--board", "no-such-board"])
    assert run.returncode == 2 and "qemu-stm32f405" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
def test_build_writes_elf_map_and_firmware_json(tmp_path):
    run = _harness(["build", "-o", str(tmp_path / "fw"), "--json"])
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert {"firmware.elf", "firmware.map", "firmware.json"} <= {p.name for p in (tmp_path / "fw").iterdir()}
    assert info["model_id"] == "d67161c50218e0d5" and info["board"] == "qemu-stm32f405"
    assert info["compiler"].startswith("arm-none-eabi-gcc") and "-mcpu=cortex-m4" in info["cflags"]
    assert len(info["build_id"]) == 40 and info["arena_bytes"] > 0 and info["stack_reserve"] == 8192
    assert info["ram_bytes"] >= info["arena_bytes"] + info["stack_reserve"] and info["flash_bytes"] > 50_000
    assert ".text" in info["sections"] and ".bss" in info["sections"]
    again = _harness(["build", "-o", str(tmp_path / "fw"), "--json"])
    assert json.loads(again.stdout)["cached"] is True


def test_selftest_on_a_real_board_profile_is_refused():
    run = _harness(["selftest", "--board", "nucleo-f429zi"])
    assert run.returncode == 2 and "runs the self-test firmware on QEMU" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
def test_the_device_firmware_takes_the_boards_uart_and_baud():
    from harness.build.firmware import build_firmware
    from harness.model.modelfile import load

    model = load(ROOT / "fixtures" / "models" / "default.npz")
    nucleo = build_firmware(model, "nucleo-f429zi", "device")
    assert {"-DRP_UART_USART=3", "-DRP_UART_BAUD=1000000u"} <= set(nucleo.info["cflags"])
    faster = build_firmware(model, "nucleo-f429zi", "device", baud=921600)  # --baud: host and firmware agree
    assert "-DRP_UART_BAUD=921600u" in faster.info["cflags"] and faster.info["build_id"] != nucleo.info["build_id"]
    assert {"-DRP_HSE_BYPASS=1", "-DRP_MCU_MAX_HZ=180000000u", "-DRP_WATCHDOG_MS=4000u"} <= set(nucleo.info["cflags"])
    discovery = build_firmware(model, "stm32f4-discovery", "device")
    assert {"-DRP_UART_USART=2", "-DRP_HSE_BYPASS=0", "-DRP_MCU_MAX_HZ=168000000u"} <= set(discovery.info["cflags"])


@needs_gcc
def test_cpu_only_buffers_live_in_ccm_on_boards_that_have_it():
    from harness.build.firmware import build_firmware
    from harness.model.modelfile import load

    model = load(ROOT / "fixtures" / "models" / "default.npz")
    for name, in_ccm in (("nucleo-f429zi", True), ("qemu-stm32f405", False)):
        elf = build_firmware(model, name, "device").elf
        nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
        where = {sym: int(addr, 16) for addr, _, sym in (line.split() for line in nm.splitlines() if
                                                            len(line.split()) == 3)}
        for symbol in ("rx_ring", "wire", "out", "decoder", "_sstack"):
            assert (0x10000000 <= where[symbol] < 0x10010000) == in_ccm, (name, symbol, hex(where[symbol]))
        assert 0x20000000 <= where["arena"] < 0x20020000  # the arena stays in SRAM, within the F405's 128 KiB


@pytest.mark.parametrize("baud, message", [
    (12_000_000, r"baud 12,000,000 is too fast for nucleo-f429zi's USART3 \(PCLK1 45 MHz\): at most 2,812,500"),
    (2_000_000, r"baud 2,000,000 on nucleo-f429zi's USART3 \(PCLK1 45 MHz\) would run at 2,045,455 baud, 2\.3 % off"),
])
def test_a_baud_the_uart_cannot_make_is_refused_before_building(baud, message):
    import dataclasses

    from harness.build.cross import check_baud
    from harness.boards import board

    alone = dataclasses.replace(board("nucleo-f429zi"), vcp=None)  # no bridge named: the UART's own error counts
    with pytest.raises(UsageError, match=message):
        check_baud(alone, baud)
    check_baud(alone, 1_000_000)
    with pytest.raises(UsageError, match=r"\(the HSI fallback 16 MHz\) would run at 941,176 baud, 2\.1 % off"):
        check_baud(alone, 921_600)  # fine at 45 MHz; a board whose PLL failed could not say so


@pytest.mark.parametrize("baud, message", [
    # users report this rate dropping bytes on an ST-LINK/V2-1 (docs/notes/pyocd-serial.md): the two ends miss by 4 %
    (1_843_200, r"baud 1,843,200 on nucleo-f429zi: its USART3 \(PCLK1 45 MHz\) would run at 1,875,000 baud and "
                r"its stlink-v2-1 bridge at 1,800,000, 4\.1 % apart \(at most 3 %\)"),
    (2_500_000, r"baud 2,500,000 is too fast for nucleo-f429zi's stlink-v2-1 bridge: at most 2,250,000 baud"),
    # fine at 45 MHz, but a board whose PLL failed runs on the 16 MHz HSI and must still say so over the UART
    (2_250_000, r"baud 2,250,000 is too fast for nucleo-f429zi's USART3 \(the HSI fallback 16 MHz\): at most "
                r"1,000,000 baud"),
])
def test_a_baud_the_boards_bridge_and_uart_would_make_apart_is_refused(baud, message):
    from harness.build.cross import check_baud
    from harness.boards import board

    with pytest.raises(UsageError, match=message):
        check_baud(board("nucleo-f429zi"), baud)
    for fine in (921_600, 1_000_000, 500_000):  # 921,600 on the HSI: 1.96 % from the bridge's 923,077
        check_baud(board("nucleo-f429zi"), fine)


def test_every_real_board_defaults_to_a_rate_its_link_carries_well_above_115200():
    from harness.boards import load_boards
    from harness.build.cross import check_baud

    real = [b for b in load_boards().values() if b.on_serial_port and not b.emulator]
    assert {b.name for b in real} >= {"nucleo-f429zi", "nucleo-f439zi", "stm32f4-discovery"}
    for b in real:
        check_baud(b, b.baud)
        assert b.baud >= 921_600, b.name
