"""harness/targets/pyocd_target.py without a board: no probe or STM32 is attached to this machine.

Real: pyOCD's ``Session`` (built from boards.yaml's target names, so a wrong name fails here), its probe listing
and sorting (``ConnectHelper``), its ``FileProgrammer`` up to the point it refuses a segment, pyelftools on ELF
files written here, and the serial link (a pty opened through pyserial).

Faked (tests/harness/targets/pyocd_fakes.py), because they need a physical probe: ``FakeProbe`` subclasses pyOCD's
``DebugProbe`` but has no SWD target behind it, so ``Session.open()`` fails at the first DP access (the tests use
that to check which probe was opened and at what clock). For ``load``/``reset``, ``ScriptedPyocdTarget`` replaces
the two seams that need a connected core: ``_open_session`` returns a session whose target is ``FakeCore`` (a pyOCD
``MemoryInterface`` over a bytearray, so ``read_memory_block8`` is pyOCD's own code) and ``_program`` copies the
ELF's flash segments into that memory as a flash algorithm would. Everything between (build-id skip, verify, reset
order, serial flush) is the real code.
"""

import logging
import os

import pytest
import usb.core
from pyocd.flash import file_programmer

from harness import boards
from harness.errors import TargetError, UsageError
from harness.targets import pyocd_target
from harness.targets.pyocd_target import (PyocdTarget, build_id_note, check_fits, connected_probes, create_session,
                                          flash_segments, parse_build_id, program_elf, select_probe, verify_flash)

from tests.harness.targets.pyocd_fakes import (BUILD_ID, FLASH, SERIAL, FakeCore, FakeProbe, ScriptedPyocdTarget, note,
                                               probes_seen, st_link_port, write_elf)

NUCLEO = boards.board("nucleo-f429zi")


@pytest.fixture
def firmware(tmp_path):
    """An ELF laid out like the real firmware: vectors, the build-id note, code; plus .data's load image."""
    image = bytes(range(64)) + note() + bytes((i * 7) & 0xFF for i in range(300))
    return write_elf(tmp_path / "firmware.elf", [(FLASH, image), (FLASH + 0x1000, b"DATA" * 8)], note_at=FLASH + 64)


@pytest.fixture
def board_link():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    yield path, master
    os.close(master)


@pytest.fixture
def scripted(board_link):
    path, master = board_link
    targets = []

    def make(**kwargs):
        target = ScriptedPyocdTarget(NUCLEO, path, **kwargs)
        target.core = FakeCore(master, lambda: target.link)
        targets.append(target)
        return target

    yield make
    for target in targets:
        target.close()


# ---- sessions with the real target types -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nucleo-f429zi", "nucleo-f439zi"])
def test_built_in_targets_match_the_boards_flash_and_keep_the_cwd(name, tmp_path):
    board, cwd = boards.board(name), os.getcwd()
    session = create_session(FakeProbe(SERIAL), board, tmp_path)
    assert os.getcwd() == cwd and session.project_dir == str(tmp_path)
    flash = [r for r in session.target.memory_map if r.is_flash]
    assert (flash[0].start, flash[-1].end + 1) == (board.flash.origin, board.flash.end)
    assert session.options.get("target_override") == board.settings["pyocd_target"]
    assert session.options.get("frequency") == 4_600_000  # ST-LINK/V2-1's 4.6 MHz step, not 1.8 MHz
    assert session.options.get("resume_on_disconnect") is False and session.options.get("no_config") is True


def test_connect_under_reset_is_a_board_setting(tmp_path):
    path = tmp_path / "boards.yaml"
    path.write_text(boards.BOARDS_YAML.read_text().replace("  watchdog_s: 4                      # a hung kernel",
                                                            "  connect_mode: under-reset\n  watchdog_s: 4  #", 1))
    stuck = boards.board("nucleo-f429zi", path)
    assert create_session(FakeProbe(SERIAL), stuck, tmp_path).options.get("connect_mode") == "under-reset"
    assert create_session(FakeProbe(SERIAL), NUCLEO, tmp_path).options.get("connect_mode") == "halt"


def test_the_discovery_pack_target_without_its_pack_names_the_option(tmp_path):
    with pytest.raises(TargetError) as info:
        create_session(FakeProbe(SERIAL), boards.board("stm32f4-discovery"), tmp_path)
    message = str(info.value)
    assert message.startswith("target stm32f407vgtx needs its CMSIS pack: pass --pyocd-pack "
                              "PATH/Keil.STM32F4xx_DFP.x.pack (download once on an online machine)")
    assert "\n" not in message


def test_an_unknown_target_name_is_one_line(tmp_path):
    path = tmp_path / "boards.yaml"
    path.write_text(boards.BOARDS_YAML.read_text().replace("pyocd_target: stm32f429xi ", "pyocd_target: stm32f429zz"))
    with pytest.raises(TargetError, match=r"^target stm32f429zz needs its CMSIS pack: .*not recognized"):
        create_session(FakeProbe(SERIAL), boards.board("nucleo-f429zi", path), tmp_path)


def test_a_pack_path_that_does_not_exist_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"^CMSIS pack .*nope\.pack not found \(target stm32f407vgtx\)"):
        create_session(FakeProbe(SERIAL), boards.board("stm32f4-discovery"), tmp_path, pack=str(tmp_path / "nope.pack"))


def test_a_user_script_in_the_working_directory_is_never_run(tmp_path, monkeypatch):
    here, pinned = tmp_path / "cwd", tmp_path / "pinned"
    here.mkdir(), pinned.mkdir()
    (here / "pyocd_user.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    monkeypatch.chdir(here)
    create_session(FakeProbe(SERIAL), NUCLEO, pinned)
    assert not (tmp_path / "ran").exists() and os.getcwd() == str(here)


# ---- probe selection --------------------------------------------------------------------------------------

def test_the_probe_with_the_equal_id_is_chosen_never_one_that_contains_it():
    exact, longer = FakeProbe(SERIAL.lower()), FakeProbe(SERIAL + "00")
    assert select_probe(SERIAL, [longer, exact]) is exact
    with pytest.raises(TargetError) as info:
        select_probe(SERIAL[:-2], [longer, exact])  # both contain it; neither is it
    assert str(info.value).startswith(f"no debug probe with unique id {SERIAL[:-2]} (probes seen: {SERIAL}00 (")
    assert "udev rules" in str(info.value)


def test_no_probe_and_several_probes_are_one_line():
    with pytest.raises(TargetError, match=r"\(probes seen: none\); is the board plugged in.*udev rules"):
        select_probe(SERIAL, [])
    with pytest.raises(TargetError, match=rf"^2 debug probes have unique id {SERIAL}: .*; unplug all but one$"):
        select_probe(SERIAL, [FakeProbe(SERIAL), FakeProbe(SERIAL)])


def test_connected_probes_asks_pyocd_without_waiting(monkeypatch):
    probes = [FakeProbe("B"), FakeProbe("A")]
    probes_seen(monkeypatch, probes)
    assert [p.unique_id for p in connected_probes()] == ["A", "B"]  # pyOCD's own sort, and no blocking wait


def test_the_target_opens_the_probe_behind_its_port_at_the_pinned_clock(board_link, monkeypatch):
    path, _ = board_link
    other, mine = FakeProbe(SERIAL + "00"), FakeProbe(SERIAL)
    st_link_port(monkeypatch, path)
    probes_seen(monkeypatch, [other, mine])
    target = PyocdTarget(NUCLEO, path)
    with pytest.raises(TargetError) as info:
        target.reset()
    assert str(info.value).startswith(f"cannot connect to nucleo-f429zi (probe {SERIAL}): Target not detected.")
    assert mine.opened and mine.clock == 4_600_000 and mine.closed and not other.opened
    assert target.describe() == f"pyOCD stlink:{SERIAL} (nucleo-f429zi) on {path}"
    target.close()
    target.close()


def test_a_busy_probe_is_one_line(board_link, monkeypatch):
    path, _ = board_link
    st_link_port(monkeypatch, path)
    probes_seen(monkeypatch, [FakeProbe(SERIAL, open_error=usb.core.USBError("Resource busy", errno=16))])
    with pytest.raises(TargetError, match=rf"^debug probe {SERIAL} is busy, held by another program; close the "
                                          r"other debugger \(pyocd, openocd, STM32CubeProgrammer\) and retry$"):
        PyocdTarget(NUCLEO, path).reset()


def test_a_non_pyocd_board_is_refused():
    with pytest.raises(UsageError, match="qemu-stm32f405 is a qemu board, not a pyOCD one"):
        PyocdTarget(boards.board("qemu-stm32f405"), "/dev/ttyACM0")


# ---- the ELF, the build id, the flash ---------------------------------------------------------------------

def test_build_id_note_is_found_and_parsed(firmware):
    address, raw = build_id_note(firmware)
    assert address == FLASH + 64 and parse_build_id(raw) == BUILD_ID.hex()
    assert parse_build_id(b"\xff" * len(raw)) == "" and parse_build_id(b"") == ""


def test_segments_are_checked_against_the_real_targets_memory_map(tmp_path, firmware):
    memory_map = create_session(FakeProbe(SERIAL), NUCLEO, tmp_path).target.memory_map
    check_fits(memory_map, firmware, "stm32f429xi")
    across_sectors = write_elf(tmp_path / "big.elf", [(FLASH + 0xF000, bytes(0x2000))])  # flash -> flash_1 region
    check_fits(memory_map, across_sectors, "stm32f429xi")
    past_the_end = write_elf(tmp_path / "f407.elf", [(FLASH + 0x1FF000, bytes(0x2000))])
    with pytest.raises(TargetError, match=r"^f407\.elf does not fit stm32f429xi's memory map: its segment at "
                                          r"0x081ff000 \(8192 bytes\) reaches 0x08200000, outside it; build it for"):
        check_fits(memory_map, past_the_end, "stm32f429xi")


def test_a_segment_out_of_the_map_fails_before_pyocd_is_asked_to_write(tmp_path, monkeypatch):
    elf = write_elf(tmp_path / "wrong-board.elf", [(0x60000000, bytes(64))])
    session = create_session(FakeProbe(SERIAL), NUCLEO, tmp_path)  # never opened: any write would fail otherwise
    with pytest.raises(TargetError, match=r"^wrong-board\.elf does not fit stm32f429xi's memory map: its segment"):
        program_elf(session, elf)


def test_pyocds_failed_to_add_data_chunk_warning_is_a_failure(tmp_path, monkeypatch):
    # pyOCD places chunks only on a connected target (add_data needs its selected core), so its own refusal is
    # replayed here through its real logger, as MemoryLoader.add_data's ValueError makes FileProgrammer log it.
    def refuse(self, path, file_format=None, **kwargs):
        file_programmer.LOG.warning("Failed to add data chunk: %s", ValueError("no region at 0x20030000"))
    monkeypatch.setattr(file_programmer.FileProgrammer, "add_file", refuse)
    monkeypatch.setattr(file_programmer.FileProgrammer, "commit", lambda self: pytest.fail("wrote after a refusal"))
    logging.getLogger("pyocd").setLevel(logging.ERROR)  # a user's quieter logging must not hide the refusal
    session = create_session(FakeProbe(SERIAL), NUCLEO, tmp_path)
    elf = write_elf(tmp_path / "fw.elf", [(FLASH, bytes(64))])
    try:
        with pytest.raises(TargetError, match=r"^fw\.elf does not fit stm32f429xi's memory map \(pyOCD: Failed to "
                                              r"add data chunk: no region at 0x20030000\); build it for this board$"):
            program_elf(session, elf)
    finally:
        logging.getLogger("pyocd").setLevel(logging.NOTSET)


def test_load_skips_flashing_when_the_build_id_is_already_there(scripted, firmware):
    target = scripted()
    for address, data in flash_segments(firmware, NUCLEO.flash):
        target.core.write_memory_block8(address, list(data))
    target.load(firmware, BUILD_ID.hex())
    assert target.programmed == [] and target.flashed is False
    assert target.core.events == ["reset_and_halt", "reset_and_halt", "reset"] and target.sessions[-1].closed
    assert target.link.read_until(b"\n") == b"banner\n"  # the old firmware's output was flushed while halted


def test_reflash_resets_and_halts_before_the_first_flash_operation(scripted, firmware):
    # A board running its firmware (core on the PLL): flashing without reset-and-halt first leaves FLASH_ACR = 0 at
    # 180 MHz and every verify read fails; pyocd load resets and halts first, and so must we.
    target = scripted()
    target.load(firmware, BUILD_ID.hex())
    events = target.core.events
    assert "flash_init" in events and events.index("reset_and_halt") < events.index("flash_init")
    assert events[-1] == "reset" and target.flashed is True


def test_load_flashes_and_verifies_an_erased_board(scripted, firmware):
    target = scripted()
    target.load(firmware, BUILD_ID.hex())
    assert target.programmed == [firmware] and target.flashed is True
    assert verify_flash(target.core, firmware, NUCLEO.flash) == 64 + len(note()) + 300 + 32
    assert target.link.read_until(b"\n") == b"banner\n"
    target.load(firmware, BUILD_ID.hex())  # now current: skipped, and the same port stays open
    assert target.programmed == [firmware] and target.flashed is False


def test_an_elf_without_a_build_id_note_is_always_flashed(scripted, tmp_path):
    elf = write_elf(tmp_path / "plain.elf", [(FLASH, bytes(range(256)))])
    target = scripted()
    target.load(elf, "")
    target.load(elf, "")
    assert target.programmed == [elf, elf] and bytes(target.core.memory[FLASH][:256]) == bytes(range(256))


def test_a_flash_that_reads_back_different_names_the_address(scripted, firmware):
    target = scripted(corrupt_at=FLASH + 0x1005)
    with pytest.raises(TargetError, match=r"^flash verify failed at 0x08001005: wrote 0x41, read back 0x40 \(1 of 32 "
                                          r"bytes differ in the segment at 0x08001000\)"):
        target.load(firmware, BUILD_ID.hex())
    assert target.core.events == ["reset_and_halt", "flash_init"] and target.sessions[-1].closed  # not started


def test_a_build_id_that_is_not_the_elfs_is_a_usage_error(scripted, firmware):
    with pytest.raises(UsageError, match=rf"firmware\.elf has build id {BUILD_ID.hex()}, not the 00ff it was given"):
        scripted().load(firmware, "00ff")


def test_reset_flushes_while_halted_then_runs(scripted, firmware):
    target = scripted()
    target.load(firmware, BUILD_ID.hex())
    assert target.link.read_until(b"\n") == b"banner\n"
    target.reset()
    assert target.core.events[-2:] == ["reset_and_halt", "reset"]
    assert target.link.read_until(b"\n") == b"banner\n" and target.link.in_waiting == 0


def test_close_releases_the_port_and_is_idempotent(scripted, firmware, board_link):
    target = scripted()
    target.load(firmware, BUILD_ID.hex())
    link = target.link
    target.close()
    target.close()
    assert not link.is_open
    with pytest.raises(TargetError, match="no firmware loaded yet"):
        _ = target.link
    pyocd_target.open_port(board_link[0], 115200, 0.1).close()  # nobody holds it any more
