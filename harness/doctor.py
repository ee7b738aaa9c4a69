"""``harness doctor``: one table for a board on the bench (or an emulator) — each line passed, failed with the fix,
or skipped saying why (an emulator cannot have its clock tree or probe checked).

    checks = diagnose(choice, model, image)     # a list of Check, in the order they ran
    ok = not any(c.status == FAIL for c in checks)

The steps use the same functions as ``harness detect`` (harness.dut): build, start or flash, handshake, run. A
step that cannot run because an earlier one failed is skipped, naming that step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from harness.errors import HarnessError

PASS, FAIL, SKIP = "pass", "fail", "skip"
RATE_WINDOW_S = 1.0      # host time between the two HELLOs that measure the tick rate
RATE_TOLERANCE = 0.02    # the measured core clock may differ from the reported one by this much (USB latency)
STACK_LIMIT = 0.9        # a stack high-water above this share of the reserve fails
BAD_RESETS = {"iwdg": "the watchdog reset the board: a layer hung (or watchdog_s is too short for it)",
              "wwdg": "the window watchdog reset the board", "bor": "a brown-out: the supply dipped",
              "lpwr": "a low-power-management reset"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str          # pass | fail | skip
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class _Steps:
    """Collects checks; ``run`` turns a step's HarnessError into a FAIL with its one-line message."""

    def __init__(self, say: Callable[[str], None]):
        self.checks: list[Check] = []
        self.say = say

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, detail, fix))
        self.say(f"  {name}: {status}")

    def run(self, name: str, step: Callable[[], tuple[str, str] | tuple[str, str, str]], fix: str = "") -> bool:
        try:
            status, detail, *more = step()
        except HarnessError as exc:
            self.add(name, FAIL, str(exc), fix)
            return False
        self.add(name, status, detail, more[0] if more else "")
        return status != FAIL

    def skip_rest(self, names: list[str], because: str) -> None:
        for name in names:
            self.add(name, SKIP, f"needs {because}")


def diagnose(choice, model, image: np.ndarray, *, progress=None, **dut_options) -> list[Check]:
    """Every check for ``choice`` (a harness.dut.BoardChoice) with ``model``'s device firmware and ``image``."""
    from harness.dut import Dut
    from harness.progress import Progress

    board = choice.board
    if not board.spec.chip:
        from harness.errors import UsageError

        raise UsageError(f"board {board.name} has no chip to diagnose (no clock, flash or probe): doctor checks an "
                         f"STM32 board or its emulator, e.g. --board=qemu-stm32f405")
    progress = progress or Progress(quiet=True)
    steps = _Steps(progress.say)
    steps.run("board profile", lambda: _profile(board, dut_options.get("baud")))
    steps.run("tools", lambda: _tools(board), fix="install what is named")
    # The clock gets its own line below, so the handshake itself does not refuse a board on its fallback clock.
    dut = Dut(choice, model, progress=progress, **{**dut_options, "allow_clock_fallback": True})
    ran: dict = {}
    later = ["firmware fits", "probe and port", "flash and verify", "handshake", "clock", "clock vs host time",
             "cycle counter", "inference", "RAM and stack", "UART errors and drops", "reset cause"]
    if not steps.run("firmware fits", lambda: _build(dut)):
        steps.skip_rest(later[1:], "a firmware build")
        return steps.checks
    if board.on_serial_port:
        steps.run("probe and port", lambda: _probe_and_port(choice),
                  fix="plug the board in, pass its ST-LINK port, or name its probe with ,probe=ID")
    else:
        steps.add("probe and port", SKIP, f"emulated ({board.backend}): no probe, the UART is a local socket")
    try:
        if not steps.run("flash and verify", lambda: _start(dut)):
            steps.skip_rest(later[3:], "the firmware running")
            return steps.checks
        if not steps.run("handshake", lambda: _handshake(dut)):
            steps.skip_rest(later[4:], "a handshake")
            return steps.checks
        steps.run("clock", lambda: _clock(dut))
        first = dut.session.hello(5.0)
        steps.run("clock vs host time", lambda: _rate(dut, first))
        steps.run("cycle counter", lambda: _counting(dut, first))
        if steps.run("inference", lambda: _inference(dut, model, image, ran)):
            steps.run("RAM and stack", lambda: _memory(dut, ran["report"]))
        else:
            steps.skip_rest(["RAM and stack"], "an inference")
        after = dut.session.hello(5.0)
        steps.run("UART errors and drops", lambda: _uart(after, dut.session.stats))
        steps.run("reset cause", lambda: _reset(dut, after))
    finally:
        dut.close()
    return steps.checks


# ---- the steps: each returns (status, detail[, fix]) or raises a HarnessError ----------------------------------

def _profile(board, baud) -> tuple[str, str]:
    from harness.build.cross import check_baud

    check_baud(board, baud or board.baud)
    watchdog = f", watchdog {board.watchdog_s:g} s" if board.watchdog_s else ""
    return PASS, (f"{board.mcu} at {board.clock_hz / 1e6:g} MHz (HSE {board.hse.mode} {board.hse.hz / 1e6:g} MHz), "
                  f"{board.uart['name']} at {baud or board.baud:,} baud, ticks {board.tick_unit}"
                  f"{watchdog}")


def _tools(board) -> tuple[str, str]:
    from harness.build.compile import describe
    from harness.build.cross import compiler_version

    found = [compiler_version(), describe()]
    if board.emulator == "qemu":
        from harness.targets.qemu import qemu_version, require_qemu

        require_qemu()
        found.append(f"QEMU {qemu_version()}")
    elif board.backend == "renode":
        from harness.targets.renode import require_renode

        found.append(f"renode at {require_renode()}")
    if board.on_serial_port:
        import pyocd

        found.append(f"pyOCD {pyocd.__version__}")
    return PASS, "; ".join(found)


def _build(dut) -> tuple[str, str, str]:
    info, board = dut.build_firmware().info, dut.board
    ram = sum(r.size for r in board.ram)
    detail = (f"flash {info['flash_bytes']:,} of {board.flash.size:,} B, RAM {info['ram_bytes']:,} of {ram:,} B "
              f"(arena {info['arena_bytes']:,} B, stack reserve {info['stack_reserve']:,} B)")
    if info["flash_bytes"] > board.flash.size:
        return FAIL, detail, "a smaller model, or a board with more flash"
    return PASS, detail, ""


def _probe_and_port(choice) -> tuple[str, str]:
    from harness.targets.pyocd_target import probe_for
    from harness.targets.serial_port import open_port

    open_port(choice.port, choice.board.baud, 0.1).close()
    probe = probe_for(choice.port, choice.probe_id)
    how = "named" if choice.probe_id else "found from the port"
    return PASS, f"{choice.port} opens; probe {probe.unique_id} ({probe.description}), {how}"


def _start(dut) -> tuple[str, str]:
    target = dut.start_target()
    flashed = getattr(target, "flashed", None)
    if flashed is None:
        return PASS, f"{target.describe()} runs the ELF (an emulator: no flash algorithm to check)"
    if flashed:
        return PASS, f"flashed and read back equal through {target.describe()}"
    return PASS, f"build id {dut.build.info['build_id'][:12]} already in flash: not reflashed"


def _handshake(dut) -> tuple[str, str]:
    dut._handshake()
    info = dut.session.info
    return PASS, f"protocol {info.protocol}, board {info.board}, build {info.build_id[:12]}, caps {','.join(info.caps)}"


def _clock(dut) -> tuple[str, str, str]:
    from harness.dut import clock_problem

    info = dut.session.info
    said = f"{info.clock_hz / 1e6:g} MHz, clock status {info.clock_status}"
    if not dut.board.models_clock:
        return SKIP, f"cannot check: QEMU does not model the RCC (the firmware reports {said}, as expected there)", ""
    problem = clock_problem(dut.board, info)
    if problem:
        return FAIL, problem, (f"check the HSE ({dut.board.hse.mode}, {dut.board.hse.hz / 1e6:g} MHz in boards.yaml; "
                               f"a Nucleo needs the ST-LINK's MCO, a Discovery its crystal) and the supply")
    return PASS, f"{said}, as boards.yaml says"


def _rate(dut, first) -> tuple[str, str, str]:
    t0 = time.monotonic()
    time.sleep(RATE_WINDOW_S)
    second = dut.session.hello(5.0)
    elapsed = time.monotonic() - t0
    rate = ((second.ticks_now - first.ticks_now) & 0xFFFFFFFF) / elapsed
    if dut.board.emulator:
        return SKIP, (f"cannot check: an emulator's ticks are instructions; {rate / 1e6:.0f} M per host second "
                      f"here (the emulator's speed, not a clock)"), ""
    expect = first.ticks_hz or first.clock_hz
    off = abs(rate - expect) / expect
    detail = f"{rate / 1e6:.2f} MHz measured against {expect / 1e6:g} MHz reported ({100 * off:.2f} % off)"
    if off > RATE_TOLERANCE:
        return FAIL, detail, "the clock tree is not what the firmware believes: check the HSE frequency (hse.hz)"
    return PASS, detail, ""


def _counting(dut, first) -> tuple[str, str, str]:
    again = dut.session.hello(5.0)
    if again.ticks_now == first.ticks_now:
        return FAIL, f"the {first.ticks} counter stands still at {first.ticks_now}", \
            "another debugger may have stopped the DWT (DEMCR = 0): close it; the firmware re-arms it each run"
    return PASS, f"the {first.ticks} counter runs ({first.ticks_now:,} → {again.ticks_now:,})", ""


def _inference(dut, model, image, ran: dict) -> tuple[str, str, str]:
    from harness.compare.device import Reference

    report = ran["report"] = dut.run(image)
    verdict = Reference(model, dut.build.generated).check(image, report)
    latency = dut.latency(report)
    detail = f"{latency['total']:,} {latency['unit']}" + (f" = {latency['ms']:.1f} ms" if "ms" in latency else "")
    if not verdict.match:
        return FAIL, f"{detail}; differs from the reference: {'; '.join(verdict.problems)[:300]}", \
            "run the device suite for the first differing layer (pytest tests/device --board=…)"
    return PASS, f"{detail}, every layer bit-exact with the reference", ""


def _memory(dut, report) -> tuple[str, str, str]:
    info = dut.build.info
    used = report.stack_bytes / info["stack_reserve"]
    detail = (f"stack high-water {report.stack_bytes:,} of {info['stack_reserve']:,} B ({100 * used:.0f} %), "
              f"arena {report.arena_bytes:,} B")
    if report.arena_bytes != info["arena_bytes"]:
        return FAIL, f"{detail}; the firmware's arena is not the planned {info['arena_bytes']:,} B", "rebuild"
    if used > STACK_LIMIT:
        return FAIL, detail, "raise the stack reserve (harness build --stack) or shrink the kernels' frames"
    return PASS, detail, ""


def _uart(info, stats) -> tuple[str, str, str]:
    detail = (f"device: {info.rx_dropped} bytes dropped, {info.rx_errors} framing/noise errors; host: "
              f"{stats.damaged} damaged frames, {stats.naks} NAKs, {stats.retransmits} retransmissions")
    if info.rx_dropped or info.rx_errors:
        return FAIL, detail, "check the wiring and ground, or lower --baud"
    return PASS, detail, ""


def _reset(dut, info) -> tuple[str, str, str]:
    if not info.reset:
        why = "QEMU does not model RCC_CSR" if dut.board.emulator == "qemu" else "no reset flag was set"
        return SKIP, f"none reported ({why})", ""
    bad = [BAD_RESETS[r] for r in info.reset if r in BAD_RESETS]
    detail = f"last boot: {'+'.join(info.reset)} ({info.reset_cause()})"
    if bad:
        return FAIL, detail, "; ".join(bad)
    return PASS, detail, ""


__all__ = ["FAIL", "PASS", "SKIP", "Check", "diagnose"]
