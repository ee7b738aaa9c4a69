"""Linker scripts rendered from firmware/platform/stm32f4.ld.in for every board in boards.yaml."""

import re
import shutil
import subprocess

import pytest

from harness.build import linker
from harness.build.cross import build_elf
from harness.errors import BuildError, UsageError

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi "
                                      "libnewlib-arm-none-eabi")
BOARDS = linker.load_boards()


def _memory(script: str) -> dict[str, tuple[int, int]]:
    """MEMORY block → name: (origin, length in bytes)."""
    out = {}
    block = re.search(r"MEMORY \{(.*?)\}", script, re.S)[1]
    for name, origin, length, unit in re.findall(r"(\w+) \([rwx]+\)\s*: ORIGIN = (0x[0-9a-f]+), "
                                                 r"LENGTH = (0x[0-9a-f]+|\d+)(K?)", block):
        out[name] = (int(origin, 16), int(length, 0) * (1024 if unit else 1))
    return out


def test_every_board_in_boards_yaml_is_an_stm32f4_we_know():
    assert {"qemu-stm32f405", "renode-stm32f4", "nucleo-f429zi", "nucleo-f439zi", "stm32f4-discovery"} <= set(BOARDS)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_memory_lengths_come_from_the_board_memory_map(board):
    profile = BOARDS[board]
    mem = _memory(linker.render(board))
    ram = {r["name"]: (r["origin"], r["size"]) for r in profile["ram"]}
    assert mem["FLASH"] == (profile["flash"]["origin"], profile["flash"]["size"])
    assert mem["RAM"] == ram["sram"]
    assert mem.get("CCMRAM") == ram.get("ccm")


def test_the_expected_sizes_per_board():
    sizes = {b: {k: v[1] // 1024 for k, v in _memory(linker.render(b)).items()} for b in BOARDS}
    assert sizes["qemu-stm32f405"] == {"FLASH": 1024, "RAM": 128}  # the real F405's SRAM, not QEMU's 192 KiB
    assert sizes["renode-stm32f4"] == {"FLASH": 2048, "RAM": 192, "CCMRAM": 64}
    assert sizes["nucleo-f429zi"] == sizes["nucleo-f439zi"] == {"FLASH": 2048, "RAM": 192, "CCMRAM": 64}
    assert sizes["stm32f4-discovery"] == {"FLASH": 1024, "RAM": 128, "CCMRAM": 64}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_ccmram_section_only_where_the_board_has_ccm(board):
    script = linker.render(board)
    has_ccm = any(r["name"] == "ccm" for r in BOARDS[board]["ram"])
    assert (".ccmram (NOLOAD)" in script) == has_ccm
    assert ("> CCMRAM" in script) == has_ccm
    assert "*(.ccmram*)" in script  # without CCM, RP_CCMRAM buffers fall back to SRAM


def test_script_keeps_the_build_id_and_the_stack_reserve():
    script = linker.render("qemu-stm32f405", stack_size=4096)
    assert re.search(r"\.note\.gnu\.build-id : ALIGN\(4\) \{ _sbuild_id = \.; KEEP\(\*\(\.note\.gnu\.build-id\)\)"
                     r" _ebuild_id = \.; \} > FLASH", script)
    assert "_stack_size = DEFINED(_stack_size) ? _stack_size : 4096;" in script
    assert "_estack = ORIGIN(RAM) + LENGTH(RAM);" in script
    assert "ASSERT(_ebss <= _sstack" in script


def test_the_stack_sits_at_the_top_of_ccm_where_the_board_has_it():
    script = linker.render("nucleo-f429zi")
    assert "_estack = ORIGIN(CCMRAM) + LENGTH(CCMRAM);" in script and "ASSERT(_eccmram <= _sstack" in script
    assert "_sccmram = _ebss;" in linker.render("qemu-stm32f405")  # an empty .ccmram for Reset_Handler to zero


@pytest.mark.parametrize("bad", [0, -8, 100, 1 << 20])
def test_bad_stack_sizes_are_refused(bad):
    with pytest.raises(UsageError, match="stack size"):
        linker.render("qemu-stm32f405", stack_size=bad)


def test_unknown_board_names_the_known_ones():
    with pytest.raises(UsageError, match="unknown board 'no-such-board'.*qemu-stm32f405"):
        linker.render("no-such-board")


def test_write_script_leaves_an_unchanged_script_alone(tmp_path):
    path = linker.write_script("stm32f4-discovery", tmp_path / "a.ld")
    mtime = path.stat().st_mtime_ns
    assert linker.write_script("stm32f4-discovery", path).stat().st_mtime_ns == mtime


BIG = """
#include "rp_runtime.h"
static volatile uint8_t big[%d];
static uint8_t scratch[1024] RP_CCMRAM;
int main(void) { big[0] = scratch[0]; return big[0]; }
"""


def _sections(elf) -> dict[str, tuple[int, int]]:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    return {p[0]: (int(p[1]), int(p[2])) for p in map(str.split, out.splitlines()) if len(p) == 3 and p[1].isdigit()}


@needs_gcc
def test_data_bss_and_stack_beyond_ram_fail_the_link_with_a_clear_message(tmp_path):
    main_c = tmp_path / "big.c"
    main_c.write_text(BIG % (116 * 1024))
    elf = build_elf(main_c, tmp_path / "fits.elf", kernels=False)  # 116 K + 1 K + 8 K stack <= the F405's 128 K
    assert (tmp_path / "fits.map").is_file() and (tmp_path / "fits.ld").is_file()
    with pytest.raises(BuildError, match=r"RAM overflow: \.data \+ \.bss \+ the stack reserve"):
        build_elf(main_c, tmp_path / "deep.elf", kernels=False, stack_size=16 * 1024)
    main_c.write_text(BIG % (122 * 1024))
    with pytest.raises(BuildError, match="RAM overflow"):
        build_elf(main_c, tmp_path / "big.elf", kernels=False)
    assert elf.is_file()


@needs_gcc
def test_ccm_buffers_land_in_ccm_only_on_boards_that_have_it(tmp_path):
    main_c = tmp_path / "ccm.c"
    main_c.write_text(BIG % 64)
    with_ccm = _sections(build_elf(main_c, tmp_path / "nucleo.elf", board="nucleo-f439zi", kernels=False))
    assert with_ccm[".ccmram"][1] == 0x10000000 and with_ccm[".ccmram"][0] >= 1024  # + the UART's receive ring
    without = _sections(build_elf(main_c, tmp_path / "qemu.elf", kernels=False))
    assert ".ccmram" not in without and without[".bss"][0] >= 1024 + 64
    note = without[".note.gnu.build-id"]
    assert note[0] == 36 and 0x08000000 <= note[1] < 0x08100000  # sha1 note, in flash
