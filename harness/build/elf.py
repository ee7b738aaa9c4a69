"""The one ELF reader (pyelftools): section sizes, the GNU build id, loadable segments, the function at an address.

Firmware (ARM) and host-compiled (x86-64) ELFs are read alike. A file that is missing, not an ELF, or damaged is
one ``BuildError`` line naming it: every ELF the harness reads comes out of a build.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from harness.errors import BuildError

BUILD_ID_SECTION = ".note.gnu.build-id"
T = TypeVar("T")
# What pyelftools raises on a truncated or damaged file besides its own ELFError (MemoryError, OverflowError: a
# garbage size it tried to read).
_DAMAGED = (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError, EOFError, OverflowError,
            MemoryError)


@dataclass(frozen=True)
class Segment:
    address: int   # load (physical) address: where a flasher writes it
    data: bytes    # the file's bytes (p_filesz), without the zero fill up to p_memsz


@dataclass(frozen=True)
class Symbol:
    name: str
    file: str      # the source file: the line table's, else the STT_FILE a local symbol follows; "" if unknown
    line: int      # 0 without a line table for the address (the firmware is built without -g; newlib has one)
    address: int
    size: int


def _read(elf: Path | str, read: Callable[[ELFFile], T]) -> T:
    """``read(parsed elf)``, with every failure to open or parse it as one BuildError line."""
    try:
        with open(elf, "rb") as stream:
            return read(ELFFile(stream))
    except OSError as exc:
        raise BuildError(f"cannot read ELF {elf}: {exc.strerror or type(exc).__name__}") from exc
    except _DAMAGED as exc:
        text = str(exc).strip().splitlines()
        raise BuildError(f"{elf} is not a readable ELF file ({text[0] if text else type(exc).__name__}); "
                         f"rebuild it") from exc


def _whole(data: bytes, size: int, what: str, address: int) -> bytes:
    """``data`` if it has all ``size`` bytes: pyelftools returns what a cut-short file holds without a word."""
    if len(data) != size:
        raise ELFError(f"its {what} at {address:#x} has {len(data)} of its {size} bytes")
    return data


def section_sizes(elf: Path | str) -> dict[str, dict]:
    """Allocated sections at a non-zero address: name → {size, address} (the sections ``arm-none-eabi-size -A``
    lists with an address)."""
    def read(parsed: ELFFile) -> dict[str, dict]:
        return {s.name: {"size": s["sh_size"], "address": s["sh_addr"]} for s in parsed.iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_addr"] > 0 and s.name.startswith(".")}
    return _read(elf, read)


def build_id(elf: Path | str) -> str:
    """The GNU build id in hex, as ``readelf -n`` prints it; "" if the ELF has none."""
    def read(parsed: ELFFile) -> str:
        sources = [s for s in parsed.iter_sections() if s["sh_type"] == "SHT_NOTE"] \
            or [s for s in parsed.iter_segments() if s["p_type"] == "PT_NOTE"]
        for source in sources:
            for note in source.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                    return bytes(note["n_descdata"]).hex()
        return ""
    return _read(elf, read)


def build_id_note(elf: Path | str) -> tuple[int, bytes] | None:
    """Address and raw bytes of the ``.note.gnu.build-id`` section (the linker script keeps it in flash), or None."""
    def read(parsed: ELFFile) -> tuple[int, bytes] | None:
        section = parsed.get_section_by_name(BUILD_ID_SECTION)
        if section is None or not section["sh_addr"]:
            return None
        return section["sh_addr"], _whole(section.data(), section["sh_size"], "build-id note", section["sh_addr"])
    return _read(elf, read)


def load_segments(elf: Path | str) -> list[Segment]:
    """Every PT_LOAD segment with bytes in the file, at its load address (.data's image lies in flash)."""
    def read(parsed: ELFFile) -> list[Segment]:
        return [Segment(seg["p_paddr"], _whole(seg.data()[:seg["p_filesz"]], seg["p_filesz"], "segment",
                                               seg["p_paddr"]))
                for seg in parsed.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]]
    return _read(elf, read)


def _arm_special(name: str) -> bool:
    """A mapping or tag symbol ($t, $d, $a.foo ...): bfd_is_arm_special_symbol_name, never a function."""
    return len(name) >= 2 and name[0] == "$" and name[1].islower() and (len(name) == 2 or name[2] == ".")


def _better(best: Symbol | None, best_func: bool, start: int, size: int, func: bool, at: int) -> bool:
    """binutils 2.40 bfd/elf.c better_fit: the closest start at or below ``at``; at the same start, one that covers
    ``at``, then a function over a label, then the smaller."""
    low, low_size = (best.address, best.size or 1) if best else (0, 0)
    if start > at or start < low:
        return False
    if start > low:
        return True
    if low + low_size <= at:
        return size > low_size
    if start + size <= at:
        return False
    if func != best_func:
        return func
    return size < low_size


def _line_of(parsed: ELFFile, at: int) -> tuple[str, int] | None:
    """(file name, line) of ``at`` in the DWARF line tables, as addr2line reads them; None if none covers it."""
    if not parsed.has_dwarf_info():
        return None
    try:
        dwarf = parsed.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            program, row = dwarf.line_program_for_CU(cu), None
            if program is None:
                continue
            for entry in program.get_entries():
                state = entry.state
                if state is None:
                    continue
                if row is not None and row.address <= at < state.address and row.line:
                    files = program["file_entry"]
                    index = row.file if program["version"] >= 5 else row.file - 1
                    return (Path(files[index].name.decode(errors="replace")).name if 0 <= index < len(files)
                            else "", row.line)
                row = None if state.end_sequence else state
    except (DWARFError, *_DAMAGED):
        return None  # damaged debug info: the symbol table still names the function
    return None


def function_at(elf: Path | str, address: int) -> Symbol | None:
    """The code symbol ``address`` lies in, chosen as addr2line does (``_better``; the file from the line table, else
    for a local symbol the STT_FILE symbol before it); None if no symbol starts at or below it in its section."""
    def read(parsed: ELFFile) -> Symbol | None:
        arm = parsed["e_machine"] == "EM_ARM"
        at = address & ~1 if arm else address  # a Thumb address carries bit 0
        section = next((i for i, s in enumerate(parsed.iter_sections()) if s["sh_flags"] & SH_FLAGS.SHF_ALLOC
                        and s["sh_addr"] <= at < s["sh_addr"] + s["sh_size"]), None)
        symtab = parsed.get_section_by_name(".symtab") or parsed.get_section_by_name(".dynsym")
        if section is None or symtab is None:
            return None
        best, best_func, file, state = None, False, "", "nothing"
        for index, sym in enumerate(symtab.iter_symbols()):
            kind, local = sym["st_info"]["type"], sym["st_info"]["bind"] == "STB_LOCAL"
            if kind == "STT_FILE":
                file, state = sym.name, "file after symbol" if state == "symbol" else state
                continue
            if index == 0:  # the null symbol: not in bfd's table
                continue
            state = "symbol" if state == "nothing" else state
            if sym["st_shndx"] != section or kind not in ("STT_FUNC", "STT_NOTYPE", "STT_GNU_IFUNC"):
                continue
            if kind == "STT_NOTYPE" and not sym["st_size"] and local and sym["st_other"]["visibility"] == "STV_HIDDEN":
                continue  # annobin's markers
            if arm and local and _arm_special(sym.name):
                continue
            thumb = arm and kind != "STT_NOTYPE"  # bfd clears bit 0 of Thumb function values only
            start = sym["st_value"] & ~1 if thumb else sym["st_value"]
            if _better(best, best_func, start, sym["st_size"] or 1, kind == "STT_FUNC", at):
                best = Symbol(sym.name, file if local or state != "file after symbol" else "", 0, start,
                              sym["st_size"])
                best_func = kind == "STT_FUNC"
        line = _line_of(parsed, at) if best is not None else None
        return replace(best, file=line[0] or best.file, line=line[1]) if line else best
    return _read(elf, read)


__all__ = ["BUILD_ID_SECTION", "Segment", "Symbol", "build_id", "build_id_note", "function_at", "load_segments",
           "section_sizes"]


@dataclass(frozen=True)
class Section:
    name: str
    size: int
    writable: bool  # SHF_WRITE: data the program changes (RAM), not code or constants


def allocated_sections(elf: Path | str) -> list[Section]:
    """Every allocated section (a host executable's too, whose addresses say nothing about flash and RAM)."""
    def read(parsed: ELFFile) -> list[Section]:
        return [Section(s.name, s["sh_size"], bool(s["sh_flags"] & SH_FLAGS.SHF_WRITE)) for s in parsed.iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_size"] > 0]
    return _read(elf, read)
