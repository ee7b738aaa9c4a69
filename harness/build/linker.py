"""Linker scripts for every STM32F4 board from one template (``firmware/platform/stm32f4.ld.in``) and the board's
memory map in ``boards.yaml``.

Board profiles come from ``harness.boards`` (the one loader, with the schema check); here they stay plain dicts,
and ``memory_map`` checks only what rendering a linker script needs (an ``sram`` region, an optional ``ccm`` one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from harness import boards as _boards
from harness.boards import MemoryRegion
from harness.build.host import FIRMWARE
from harness.errors import InputError, UsageError

BOARDS_YAML = _boards.BOARDS_YAML
TEMPLATE = FIRMWARE / "platform" / "stm32f4.ld.in"
DEFAULT_STACK = 8192


@dataclass(frozen=True)
class MemoryMap:
    flash: MemoryRegion
    ram: MemoryRegion
    ccm: MemoryRegion | None


def load_boards(path: Path = BOARDS_YAML) -> dict[str, dict]:
    """Every STM32 board's raw profile (the boards that are linked; not the host board), checked by
    ``harness.boards`` (BoardsError on a schema mistake)."""
    return {name: b.profile for name, b in _boards.load_boards(path).items() if b.spec.chip}


def board_profile(board: str, path: Path = BOARDS_YAML) -> dict:
    """``board``'s raw profile (BoardsError, a UsageError, naming the known boards if there is none)."""
    return _boards.board(board, path).profile


def memory_map(board: str, profile: dict) -> MemoryMap:
    """``flash`` plus the ``ram`` list: one ``sram`` region (RAM) and at most one ``ccm`` region (CCMRAM). Origins
    and sizes were checked by ``harness.boards``."""
    ram = {r["name"]: MemoryRegion(r["name"], int(r["origin"]), int(r["size"])) for r in profile.get("ram") or []}
    if "sram" not in ram or set(ram) - {"sram", "ccm"}:
        raise InputError(f"boards.yaml: {board}: ram must be one 'sram' region and at most one 'ccm', "
                         f"got {sorted(ram)}")
    fl = profile["flash"]
    return MemoryMap(MemoryRegion("flash", int(fl["origin"]), int(fl["size"])), ram["sram"], ram.get("ccm"))


def _length(size: int) -> str:
    return f"{size // 1024}K" if size % 1024 == 0 else f"{size:#x}"


def render(board: str, stack_size: int = DEFAULT_STACK, boards: dict[str, dict] | None = None,
           layout: MemoryMap | None = None) -> str:
    """The linker script text for ``board`` with a ``stack_size``-byte stack reserve at the top of RAM (of CCM where
    there is one). ``layout`` replaces the board's memory map: only for programs that test or measure on an
    emulator which maps other memory than the chip has (harness.targets.qemu.run_probe: all of QEMU's SRAM; a CCM
    stand-in in QEMU's spare SRAM); firmware is always linked as the real chip."""
    if not isinstance(stack_size, int) or stack_size <= 0 or stack_size % 8:
        raise UsageError(f"stack size must be a positive multiple of 8 bytes, got {stack_size!r}")
    boards = load_boards() if boards is None else boards
    if board not in boards:
        raise UsageError(f"unknown board {board!r}; boards.yaml has: {', '.join(sorted(boards))}")
    mem = layout or memory_map(board, boards[board])
    stack_ram = mem.ccm or mem.ram
    if stack_size > stack_ram.size:
        raise UsageError(f"stack size {stack_size} exceeds {board}'s {stack_ram.name} ({stack_ram.size} bytes)")
    if mem.ccm:
        ccm_memory = f"  CCMRAM (rw)  : ORIGIN = {mem.ccm.origin:#010x}, LENGTH = {_length(mem.ccm.size)}\n"
        # Data bus only (no DMA) and never initialised by the hardware (Reset_Handler zeroes it): the stack, the
        # receive ring and the frame buffers (RP_CCMRAM) live here, leaving SRAM to the arena.
        ccm_section = ("  .ccmram (NOLOAD) : ALIGN(4) { _sccmram = .; *(.ccmram*) . = ALIGN(4); _eccmram = .; }"
                       " > CCMRAM")
        ccm_fallback = ""
        stack_region = "CCMRAM"
        checks = ('  ASSERT(_ebss <= ORIGIN(RAM) + LENGTH(RAM), "RAM overflow: .data + .bss do not fit in RAM")\n'
                  '  ASSERT(_eccmram <= _sstack, "CCM overflow: .ccmram + the stack reserve (_stack_size) do not fit '
                  'in core-coupled RAM")')
    else:
        ccm_memory = ""
        ccm_section = ("  /* no CCM on this board: no .ccmram output section */\n"
                       "  _sccmram = _ebss;\n  _eccmram = _ebss;")
        # The same source must link everywhere, so RP_CCMRAM buffers fall back to (zeroed) SRAM.
        ccm_fallback = "    *(.ccmram*) /* no CCM on this board */\n"
        stack_region = "RAM"
        checks = ('  ASSERT(_ebss <= _sstack, "RAM overflow: .data + .bss + the stack reserve (_stack_size) do not fit '
                  'in RAM")')
    return Template(TEMPLATE.read_text()).substitute(
        board=board, flash_origin=f"{mem.flash.origin:#010x}", flash_length=_length(mem.flash.size),
        ram_origin=f"{mem.ram.origin:#010x}", ram_length=_length(mem.ram.size), ccm_memory=ccm_memory,
        ccm_section=ccm_section, ccm_fallback=ccm_fallback, stack_size=str(stack_size), stack_region=stack_region,
        checks=checks)


def write_script(board: str, path: Path, stack_size: int = DEFAULT_STACK, layout: MemoryMap | None = None) -> Path:
    """Render ``board``'s script into ``path`` (rewritten only when the text changed, so timestamps stay put)."""
    text = render(board, stack_size, layout=layout)
    path = Path(path)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path
