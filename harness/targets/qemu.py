"""QEMU's netduinoplus2 (STM32F405) running a self-contained, semihosted program (no serial link needed)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DependencyError, TargetTimeout

QEMU = "qemu-system-arm"


@dataclass(frozen=True)
class SemihostedRun:
    exit_code: int
    output: str


def run_semihosted(elf: Path, timeout: float = 300.0) -> SemihostedRun:
    """Boot ``elf`` with one TIM2 tick per instruction (``-icount shift=0``); console and exit via semihosting."""
    if shutil.which(QEMU) is None:
        raise DependencyError(f"{QEMU} not found; install it with `apt-get install qemu-system-arm`")
    cmd = [QEMU, "-M", "netduinoplus2", "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TargetTimeout(f"{elf.name} did not finish on QEMU within {timeout:.0f} s") from exc
    # QEMU 7.2 writes semihosting console output (SYS_WRITE0) to its stderr, next to its own messages.
    return SemihostedRun(run.returncode, run.stdout + run.stderr)
