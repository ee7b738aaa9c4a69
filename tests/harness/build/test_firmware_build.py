"""``harness build`` front-end behaviour that needs no emulator: missing toolchain and bad arguments give one
clear line; firmware.json says what was built."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


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
    assert info["model_id"] == "765f736bc4b3ee75" and info["board"] == "qemu-stm32f405"
    assert info["compiler"].startswith("arm-none-eabi-gcc") and "-mcpu=cortex-m4" in info["cflags"]
    assert len(info["build_id"]) == 40 and info["arena_bytes"] > 0 and info["stack_reserve"] == 8192
    assert info["ram_bytes"] >= info["arena_bytes"] + info["stack_reserve"] and info["flash_bytes"] > 50_000
    assert ".text" in info["sections"] and ".bss" in info["sections"]
    again = _harness(["build", "-o", str(tmp_path / "fw"), "--json"])
    assert json.loads(again.stdout)["cached"] is True


def test_selftest_on_a_real_board_profile_is_refused():
    run = _harness(["selftest", "--board", "nucleo-f429zi"])
    assert run.returncode == 2 and "runs on a QEMU board" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
def test_the_device_firmware_takes_the_boards_uart_and_baud():
    from harness.build.firmware import build_firmware
    from harness.model.modelfile import load

    model = load(ROOT / "fixtures" / "models" / "default.npz")
    nucleo = build_firmware(model, "nucleo-f429zi", "device")
    assert {"-DRP_UART_USART=3", "-DRP_UART_BAUD=115200u"} <= set(nucleo.info["cflags"])
    faster = build_firmware(model, "nucleo-f429zi", "device", baud=921600)  # --baud: host and firmware agree
    assert "-DRP_UART_BAUD=921600u" in faster.info["cflags"] and faster.info["build_id"] != nucleo.info["build_id"]
