"""Cross-compiling for the Cortex-M4 with arm-none-eabi-gcc (the flags the QEMU notes measured)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.build.host import FIRMWARE, kernel_sources
from harness.errors import BuildError, DependencyError

CC = "arm-none-eabi-gcc"
CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
CFLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-ffunction-sections",
          "-fdata-sections", "-fno-tree-loop-distribute-patterns")
LDFLAGS = ("-nostartfiles", "-Wl,--gc-sections", "--specs=nano.specs", "--specs=nosys.specs")
INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"


def require_toolchain() -> str:
    if shutil.which(CC) is None:
        raise DependencyError(f"{CC} not found; install the toolchain with `{INSTALL}`")
    return CC


def runtime_sources() -> list[Path]:
    return sorted((FIRMWARE / "runtime").glob("*.c"))


def build_elf(main_c: Path, out: Path, board: str = "qemu-netduinoplus2", dsp: bool = True) -> Path:
    """Kernels + runtime + ``main_c`` → ``out`` (ELF) for ``board``'s linker script; ``dsp=False`` forces the
    portable C paths (RP_USE_DSP=0)."""
    cc = require_toolchain()
    ld = FIRMWARE / "platform" / board / "linker.ld"
    defines = [] if dsp else ["-DRP_USE_DSP=0"]
    cmd = [cc, *CPU_FLAGS, *CFLAGS, *defines, f"-I{FIRMWARE / 'include'}", f"-I{FIRMWARE / 'runtime'}",
           *map(str, kernel_sources() + runtime_sources()), str(main_c), *LDFLAGS, f"-T{ld}", "-o", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-3:])
        raise BuildError(f"firmware build failed ({cc} exit {run.returncode}): {tail}")
    return out
