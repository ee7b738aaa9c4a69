"""The FAULT frame (docs/protocol.md): what a Cortex-M4 fault handler saw, in words a person can act on.

Payload: ten u32 LE — exception number (3 = HardFault), pc, lr, xpsr (0xFFFFFFFF: the stacked frame lay outside
the stack reserve, e.g. after a stack overflow, and was not read), CFSR, HFSR, MMFAR, BFAR, EXC_RETURN, and the
firmware's context (the running layer's index; 0xFFFF: between layers). Bit names are the ARMv7-M Architecture
Reference Manual's (B3.2.15, B3.2.16).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from dataclasses import dataclass

from harness.errors import HarnessError, ProtocolError

_PAYLOAD = struct.Struct("<10I")
NO_FRAME = 0xFFFFFFFF
NO_CONTEXT = 0xFFFF

# CFSR = UFSR (31:16) | BFSR (15:8) | MMFSR (7:0): the condition bits, in the order they are worth reading.
CFSR_BITS = (
    (1 << 4, "stack overflow or bad stack while entering the exception (MSTKERR)"),
    (1 << 12, "bus error while stacking the exception frame (STKERR): the stack pointer left RAM"),
    (1 << 1, "data access violation (DACCVIOL)"),
    (1 << 0, "instruction fetch from a no-execute region (IACCVIOL)"),
    (1 << 3, "memory fault on exception return (MUNSTKERR)"),
    (1 << 5, "memory fault during lazy FP state preservation (MLSPERR)"),
    (1 << 9, "precise data bus error (PRECISERR)"),
    (1 << 10, "imprecise data bus error (IMPRECISERR)"),
    (1 << 8, "instruction bus error (IBUSERR)"),
    (1 << 11, "bus error on exception return (UNSTKERR)"),
    (1 << 13, "bus error during lazy FP state preservation (LSPERR)"),
    (1 << 16, "undefined instruction (UNDEFINSTR)"),
    (1 << 17, "invalid EPSR state, e.g. a branch to an ARM (even) address (INVSTATE)"),
    (1 << 18, "invalid EXC_RETURN value (INVPC)"),
    (1 << 19, "coprocessor access with the FPU off (NOCP)"),
    (1 << 24, "unaligned access (UNALIGNED)"),
    (1 << 25, "division by zero (DIVBYZERO)"),
)
MMARVALID, BFARVALID = 1 << 7, 1 << 15
HFSR_VECTTBL, HFSR_FORCED = 1 << 1, 1 << 30


@dataclass(frozen=True)
class FaultReport:
    exception: int
    pc: int
    lr: int
    psr: int
    cfsr: int
    hfsr: int
    mmfar: int
    bfar: int
    exc_return: int
    context: int

    @staticmethod
    def parse(payload: bytes) -> FaultReport:
        if len(payload) != _PAYLOAD.size:
            raise ProtocolError(f"FAULT frame of {len(payload)} bytes; expected {_PAYLOAD.size}")
        return FaultReport(*_PAYLOAD.unpack(payload))

    def causes(self) -> list[str]:
        """The fault's conditions in words, with the faulting address where the core recorded one."""
        out = [text for bit, text in CFSR_BITS if self.cfsr & bit]
        if self.cfsr & MMARVALID:
            out.append(f"at address {self.mmfar:#010x}")
        elif self.cfsr & BFARVALID:
            out.append(f"at address {self.bfar:#010x}")
        if self.hfsr & HFSR_VECTTBL:
            out.append("vector table read failed (HFSR VECTTBL)")
        if not out:
            out.append("no fault status bit set" if self.exception == 3 else f"unhandled exception {self.exception}"
                       + (f" (IRQ {self.exception - 16})" if self.exception >= 16 else ""))
        return out

    def describe(self, layers: Sequence[str] = ()) -> str:
        """One line: where (the layer), what (the causes), and the raw registers."""
        where = ("between layers" if self.context == NO_CONTEXT else
                 f"in layer {layers[self.context]}" if self.context < len(layers) else f"in context {self.context}")
        kind = "HardFault" if self.exception == 3 else f"exception {self.exception}"
        regs = (f"pc={self.pc:#010x} lr={self.lr:#010x}" if self.pc != NO_FRAME else "no valid exception frame")
        return (f"the firmware took a {kind} {where}: {', '.join(self.causes())} ({regs}, cfsr={self.cfsr:#010x}, "
                f"hfsr={self.hfsr:#010x})")


def locate(elf: Path, address: int) -> str:
    """``function (file)`` of ``address`` in ``elf``, named as arm-none-eabi-addr2line -f would (harness/build/elf.py;
    ``file:line`` where a line table covers it), or "" if it cannot say (no valid frame, no symbol, no ELF)."""
    from harness.build.elf import function_at

    if address == NO_FRAME:
        return ""
    try:
        symbol = function_at(elf, address)
    except HarnessError:
        return ""  # the fault line stands without the site
    if symbol is None:
        return ""
    return f"{symbol.name} ({symbol.file}{f':{symbol.line}' if symbol.line else ''})" if symbol.file else symbol.name


__all__ = ["FaultReport", "locate"]
