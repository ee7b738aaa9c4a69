"""The board runtime's clock, UART, tick and watchdog code (firmware/runtime) compiled for the host with
``-DRP_REG_MODEL``, so every register access calls back into a register model instead of touching memory
(firmware/runtime/rp_stm32f4_regs.h). The library exports ``rp_reg_model_attach(read, write)`` to plug the model in
(tests/harness/build/register_model.py does, through ctypes callbacks). Builds are cached like host.py's: by a
content hash of compiler, flags, defines and sources."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.build.compile import compile_and_link
from harness.build.host import CACHE, CFLAGS, FIRMWARE, HostLibrary, host_compiler
from harness.errors import BuildError

RUNTIME = FIRMWARE / "runtime"
# The runtime files that drive peripherals; startup, vectors and fault handling need the real Cortex-M.
MODELLED_SOURCES = ("clock.c", "uart.c", "ticks.c", "watchdog.c")

# Where the register accesses go: two function pointers the model sets. Unattached, a read is 0 and a write is lost.
ATTACH_C = """\
#include <stdint.h>
typedef uint32_t (*rp_reg_read_fn)(uint32_t addr);
typedef void (*rp_reg_write_fn)(uint32_t addr, uint32_t value);
static rp_reg_read_fn model_read;
static rp_reg_write_fn model_write;
void rp_reg_model_attach(rp_reg_read_fn read, rp_reg_write_fn write) { model_read = read; model_write = write; }
uint32_t rp_reg_model_read(uint32_t addr) { return model_read ? model_read(addr) : 0u; }
void rp_reg_model_write(uint32_t addr, uint32_t value) { if (model_write) model_write(addr, value); }
"""
# The host's assembler has no ARM system instructions: rp_board_reset's "dsb" and rp_uart_wait's "cpsid i", "wfi"
# and "cpsie i" become empty assembler macros. The host never calls rp_board_reset (it would spin for ever), and
# rp_uart_wait without the sleep returns at once; the rest of the runtime has no ARM instructions.
HOST_ASM_H = '__asm__(".macro dsb\\n.endm\\n.macro wfi\\n.endm\\n.macro cpsid m\\n.endm\\n.macro cpsie m\\n.endm");\n'


def runtime_model_sources() -> list[Path]:
    return [RUNTIME / name for name in MODELLED_SOURCES]


def build_runtime_model_library(defines: Sequence[str], cache: Path = CACHE, cc: str | None = None) -> HostLibrary:
    """``MODELLED_SOURCES`` with ``-DRP_REG_MODEL`` and ``defines`` (``NAME=value`` strings, e.g. a board's
    ``harness.build.cross.board_defines``) as ``librp-runtime-<key>.so``."""
    cc, version = host_compiler(cc)
    defs = ["RP_REG_MODEL", *defines]
    flags = [*CFLAGS, "-fno-toplevel-reorder", *(f"-D{d}" for d in defs)]
    h = hashlib.sha256("\0".join([version, *flags, ATTACH_C, HOST_ASM_H]).encode())
    for f in sorted(RUNTIME.glob("*.h")) + runtime_model_sources():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    key = h.hexdigest()[:16]
    path = Path(cache) / f"librp-runtime-{key}.so"
    if path.is_file():
        return HostLibrary(path, key, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as work:
        attach, asm = Path(work) / "rp_reg_model_attach.c", Path(work) / "host_asm.h"
        attach.write_text(ATTACH_C)
        asm.write_text(HOST_ASM_H)
        out = Path(work) / path.name
        run = compile_and_link(cc, [*flags, f"-I{RUNTIME}", f"-I{FIRMWARE / 'include'}", "-include", str(asm)],
                               [*runtime_model_sources(), attach], out, ["-shared"])
        if run.returncode != 0:
            tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-3:])
            raise BuildError(f"host runtime build failed ({cc} exit {run.returncode}): {tail}")
        os.replace(out, path)  # atomic: a concurrent build never loads a half-written library
    return HostLibrary(path, key, version)
