"""harness/build/elf.py against the binutils it replaced: section sizes as ``size -A`` lists them, the build id as
``readelf -n`` prints it, segments as ``readelf -l`` shows them, fault sites as ``addr2line -f`` names them; for a
firmware ELF (arm-none-eabi) and a host one (cc). A missing or damaged ELF is one BuildError line."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.build import firmware
from harness.build.cross import build_elf
from harness.build.elf import build_id, build_id_note, function_at, load_segments, section_sizes
from harness.errors import BuildError
from harness.protocol.fault import NO_FRAME, locate

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi "
                                      "libnewlib-arm-none-eabi")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("size") is None,
                              reason="needs a host C compiler and binutils: apt-get install build-essential")

PROGRAM = """
static volatile int sink;
static int __attribute__((noinline)) triple(int x) { return 3 * x + sink; }
int __attribute__((noinline)) twice(int x) { return 2 * x + sink; }
int main(void) { sink = triple(sink) + twice(sink); return 0; }
"""


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _size_a(tool: str, elf: Path) -> dict[str, dict]:
    """What firmware.section_sizes made of ``size -A`` before harness/build/elf.py."""
    out = {}
    for parts in map(str.split, _run(tool, "-A", str(elf)).splitlines()):
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit() and int(parts[2]) > 0:
            out[parts[0]] = {"size": int(parts[1]), "address": int(parts[2])}
    return out


def _readelf_id(tool: str, elf: Path) -> str:
    m = re.search(r"Build ID:\s*([0-9a-f]+)", _run(tool, "-n", str(elf)))
    return m[1] if m else ""


def _readelf_loads(tool: str, elf: Path) -> list[tuple[int, int]]:
    """(physical address, file size) of every PT_LOAD with bytes in the file."""
    rows = [line.split() for line in _run(tool, "-lW", str(elf)).splitlines() if line.split()[:1] == ["LOAD"]]
    return [(int(r[3], 16), int(r[4], 16)) for r in rows if int(r[4], 16)]


def _addr2line_site(tool: str, elf: Path, address: int) -> str:
    """fault.locate as it was: one addr2line run, "" for "??", the file's name without an unknown line."""
    lines = _run(tool, "-f", "-e", str(elf), f"{address & ~1:#x}").split()
    if lines[0] == "??":
        return ""
    where = Path(lines[1]).name.removesuffix(":?")
    return lines[0] if where.startswith("??") else f"{lines[0]} ({where})"


def _functions(nm: str, elf: Path) -> list[tuple[str, int, int]]:
    """(name, start, size) of the code symbols with a size (a Thumb function's bit 0 cleared)."""
    out = []
    for parts in map(str.split, _run(nm, "-S", "--defined-only", str(elf)).splitlines()):
        if len(parts) == 4 and parts[2] in "tT":
            out.append((parts[3], int(parts[0], 16) & ~int(nm.startswith("arm-")), int(parts[1], 16)))
    return out


@pytest.fixture(scope="module")
def arm_elf(tmp_path_factory) -> Path:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc")
    work = tmp_path_factory.mktemp("arm")
    (work / "main.c").write_text(PROGRAM)
    return build_elf(work / "main.c", work / "firmware.elf", kernels=False)


@pytest.fixture(scope="module")
def host_elves(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("cc") is None or shutil.which("size") is None:
        pytest.skip("needs a host C compiler and binutils")
    work = tmp_path_factory.mktemp("host")
    (work / "main.c").write_text(PROGRAM)
    out = {}
    for name, flags in {"pie": ["-Wl,--build-id=sha1"], "no-pie": ["-no-pie", "-Wl,--build-id=sha1"],
                        "debug": ["-g", "-Wl,--build-id=sha1"], "no-id": ["-Wl,--build-id=none"]}.items():
        out[name] = work / name
        subprocess.run(["cc", "-O1", *flags, str(work / "main.c"), "-o", str(out[name])], check=True)
    return out


# ---- a firmware ELF --------------------------------------------------------------------------------------------

@needs_gcc
def test_sections_and_build_id_are_what_arm_binutils_report(arm_elf):
    sizes = section_sizes(arm_elf)
    assert sizes == _size_a("arm-none-eabi-size", arm_elf)
    assert {".isr_vector", ".note.gnu.build-id", ".text", ".bss"} <= set(sizes)
    assert ".comment" not in sizes and ".ARM.attributes" not in sizes  # not allocated: address 0
    assert len(build_id(arm_elf)) == 40 and build_id(arm_elf) == _readelf_id("arm-none-eabi-readelf", arm_elf)
    assert firmware.section_sizes is section_sizes and firmware.build_id is build_id  # the old names still work


@needs_gcc
def test_cached_firmware_builds_read_as_arm_binutils_read_them():
    cached = sorted(p for p in firmware.CACHE.glob("*/firmware.elf") if not p.parent.name.startswith("host-"))[:3]
    if not cached:
        pytest.skip("no firmware built yet under .harness/build")
    for elf in cached:
        assert section_sizes(elf) == _size_a("arm-none-eabi-size", elf), elf
        assert build_id(elf) == _readelf_id("arm-none-eabi-readelf", elf), elf


@needs_gcc
def test_load_segments_and_the_build_id_note_are_the_program_headers(arm_elf):
    segments = load_segments(arm_elf)
    assert [(s.address, len(s.data)) for s in segments] == _readelf_loads("arm-none-eabi-readelf", arm_elf)
    address, note = build_id_note(arm_elf)
    assert address == section_sizes(arm_elf)[".note.gnu.build-id"]["address"] and note.endswith(
        bytes.fromhex(build_id(arm_elf)))
    flash = next(s for s in segments if s.address == 0x08000000)
    assert flash.data[address - flash.address:][:len(note)] == note  # the note lies in the flash image


@needs_gcc
def test_fault_sites_are_named_as_addr2line_named_them(arm_elf):
    functions = _functions("arm-none-eabi-nm", arm_elf)
    assert {"triple", "twice", "main"} <= {name for name, _, _ in functions}
    for _, start, size in functions:
        for address in {start, start + size // 2 & ~1, start + size - 2}:
            assert locate(arm_elf, address | 1) == _addr2line_site("arm-none-eabi-addr2line", arm_elf, address)
    start = next(start for name, start, _ in functions if name == "triple")
    assert locate(arm_elf, start + 2) == "triple (main.c)"  # a static function: its file from the symbol table
    assert function_at(arm_elf, start + 2).name == "triple" and function_at(arm_elf, 0x30000000) is None
    assert locate(arm_elf, NO_FRAME) == "" and locate(arm_elf, 0x0FFFFFF0) == ""  # no frame; no section there


# ---- a host ELF --------------------------------------------------------------------------------------------------

@needs_cc
@pytest.mark.parametrize("kind", ["pie", "no-pie", "debug", "no-id"])
def test_a_host_elf_reads_as_host_binutils_read_it(host_elves, kind):
    elf = host_elves[kind]
    assert section_sizes(elf) == _size_a("size", elf) and ".text" in section_sizes(elf)
    assert build_id(elf) == _readelf_id("readelf", elf)
    assert (build_id(elf) == "") == (kind == "no-id")
    assert [(s.address, len(s.data)) for s in load_segments(elf)] == _readelf_loads("readelf", elf)


@needs_cc
def test_host_fault_sites_name_the_function_and_with_debug_info_the_line(host_elves):
    start = next(start for name, start, _ in _functions("nm", host_elves["no-pie"]) if name == "triple")
    assert locate(host_elves["no-pie"], start) == "triple (main.c)"
    symbol = function_at(host_elves["debug"], next(s for n, s, _ in _functions("nm", host_elves["debug"])
                                                   if n == "triple"))
    assert (symbol.name, symbol.file, symbol.line) == ("triple", "main.c", 3)


# ---- missing and damaged ----------------------------------------------------------------------------------------

READERS = [section_sizes, build_id, build_id_note, load_segments, lambda elf: function_at(elf, 0x08000100)]


@pytest.mark.parametrize("read", READERS)
def test_a_missing_elf_is_one_line_naming_it(read, tmp_path):
    with pytest.raises(BuildError, match=r"^cannot read ELF .*nope\.elf: No such file or directory$"):
        read(tmp_path / "nope.elf")


@pytest.mark.parametrize("read", READERS)
def test_a_file_that_is_no_elf_is_one_line_naming_it(read, tmp_path):
    path = tmp_path / "firmware.elf"
    path.write_text("not an ELF at all\n" * 8)
    with pytest.raises(BuildError, match=r"firmware\.elf is not a readable ELF file \(.*\); rebuild it$") as err:
        read(path)
    assert "\n" not in str(err.value)


@needs_gcc
@pytest.mark.parametrize("keep", [20, 60, 400])
def test_a_truncated_elf_is_one_line(arm_elf, tmp_path, keep):
    path = tmp_path / "firmware.elf"
    path.write_bytes(arm_elf.read_bytes()[:keep])  # inside the header, the program headers, the vector table
    for read in READERS:
        with pytest.raises(BuildError, match=r"^\S*firmware\.elf is not a readable ELF file \(.*\); rebuild it$"):
            read(path)
    assert locate(path, 0x08000100) == ""  # a fault line stands without its site


def test_an_elf_header_with_nothing_behind_it_is_one_line(tmp_path):
    path = tmp_path / "firmware.elf"
    path.write_bytes(b"\x7fELF" + bytes(12))
    with pytest.raises(BuildError) as err:
        section_sizes(path)
    assert str(err.value).count("\n") == 0 and str(path) in str(err.value)
