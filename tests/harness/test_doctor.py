"""``harness doctor``: the whole table on QEMU through the CLI (what it cannot check there is skipped saying why),
and the checks that only a bench board can fail, fed what such a board would report."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.boards import board
from harness.doctor import FAIL, PASS, SKIP, _clock, _memory, _reset, _uart, diagnose
from harness.protocol.session import DeviceInfo, LinkStats
from tests.harness.protocol.test_session import hello_payload
from tests.harness.targets.needs import needs_emulator

ROOT = Path(__file__).resolve().parents[2]


@needs_emulator
def test_doctor_on_qemu_passes_and_says_what_it_cannot_check():
    run = subprocess.run([sys.executable, "-m", "harness", "doctor", "--board", "qemu-stm32f405", "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    out = json.loads(run.stdout)
    status = {c["name"]: c["status"] for c in out["checks"]}
    assert out["ok"] and FAIL not in status.values()
    assert status["inference"] == status["handshake"] == status["firmware fits"] == status["cycle counter"] == PASS
    assert status["clock"] == status["clock vs host time"] == status["reset cause"] == SKIP
    details = {c["name"]: c["detail"] for c in out["checks"]}
    assert "QEMU does not model the RCC" in details["clock"] and "bit-exact" in details["inference"]
    assert details["probe and port"].startswith("emulated (qemu)")
    assert ("ccache" if shutil.which("ccache") else "no ccache") in details["tools"]


def _info(**hello) -> DeviceInfo:
    return DeviceInfo.parse(hello_payload(**hello))


def test_a_watchdog_reset_fails_naming_the_cause():
    status, detail, fix = _reset(SimpleNamespace(board=board("nucleo-f429zi")), _info(reset="iwdg+pin"))
    assert status == FAIL and "iwdg+pin" in detail and fix.startswith("the watchdog reset the board")
    assert _reset(SimpleNamespace(board=board("nucleo-f429zi")), _info(reset="pin"))[0] == PASS


def test_uart_drops_and_errors_fail_with_the_fix():
    status, detail, fix = _uart(_info(rx_dropped="3", rx_errors="1"), LinkStats(naks=2))
    assert status == FAIL and "3 bytes dropped, 1 framing/noise errors" in detail and "lower --baud" in fix
    assert _uart(_info(), LinkStats())[0] == PASS


def test_a_clock_fallback_fails_on_a_board_and_is_skipped_on_qemu():
    fell_back = SimpleNamespace(session=SimpleNamespace(info=_info(clock="16000000", clock_status="hse-timeout")))
    status, detail, fix = _clock(SimpleNamespace(board=board("nucleo-f429zi"), **vars(fell_back)))
    assert status == FAIL and "16 MHz (clock status hse-timeout)" in detail and "bypass" in fix
    assert _clock(SimpleNamespace(board=board("qemu-stm32f405"), **vars(fell_back)))[0] == SKIP


def test_a_stack_near_its_reserve_fails():
    dut = SimpleNamespace(build=SimpleNamespace(info={"stack_reserve": 8192, "arena_bytes": 1000}))
    deep = SimpleNamespace(stack_bytes=8000, arena_bytes=1000)
    assert _memory(dut, deep)[0] == FAIL
    assert _memory(dut, SimpleNamespace(stack_bytes=5360, arena_bytes=1000))[0] == PASS


def test_the_host_board_is_refused_in_one_line_before_any_build():
    from harness.dut import parse_board
    from harness.errors import UsageError

    with pytest.raises(UsageError, match=r"^board host has no chip to diagnose .* e\.g\. --board=qemu-stm32f405$"):
        diagnose(parse_board("host"), None, None)
