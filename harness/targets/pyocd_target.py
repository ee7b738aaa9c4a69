"""A real board: flashed and reset through pyOCD, talked to over the ST-LINK's virtual COM port.

The probe is the one whose unique id equals the port's USB serial number (an ST-LINK's VCP and debug interface
are one USB device), so a port never drives a different board's probe. Facts used (docs/notes/pyocd-serial.md):
``Session`` builds the target in its constructor (an unknown target type fails there) and ``chdir``s to
``project_dir``, so we pin that to an empty directory and restore the cwd; ``FileProgrammer`` neither verifies
nor resets, and only logs a segment it cannot place, so we treat that warning as a failure and read the flash
back ourselves; sessions close with ``resume_on_disconnect=False``, which leaves DEMCR (the firmware's DWT cycle
counter) alone. Flashing starts from reset-and-halt, as ``pyocd load`` does: pyOCD's STM32F429/F439 flash algorithm
writes FLASH_ACR = 0 (no wait states, no caches) in its Init and never restores it, so a core still on the firmware's
168/180 MHz PLL would read flash out of spec, and verification would fail on every new build; after reset the
core runs on the 16 MHz HSI, where 0 wait states are right, and no firmware interrupt fires while flash is erased.

Every pyOCD, pyusb and pyserial failure becomes a one-line ``TargetError`` (``UsageError`` for a wrong argument,
such as a pack path that does not exist).
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import usb.core
from pyocd.core import exceptions
from pyocd.core.helpers import ConnectHelper
from pyocd.core.session import Session
from pyocd.flash.file_programmer import FileProgrammer
from pyocd.probe.debug_probe import DebugProbe

from harness.boards import DEFAULT_SWD_HZ, Board, MemoryRegion
from harness.build.elf import build_id_note, load_segments
from harness.errors import TargetError, UsageError
from harness.targets.base import Target
from harness.targets.serial_port import describe_holders, open_port, probe_serial_for_port, usb_device_node
from harness.targets.virtual_probe import VirtualProbe  # noqa: F401 - registers virtual bench boards with pyOCD

NT_GNU_BUILD_ID = 3
UDEV_HINT = ("is the board plugged in, and may this user open the ST-LINK? install its udev rules "
             "(49-stlinkv2-1.rules, 49-stlinkv3.rules; pyOCD's udev/ folder) and replug")
FILE_PROGRAMMER_LOG = "pyocd.flash.file_programmer"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---- probe and session ---------------------------------------------------------------------------------------

def connected_probes() -> list[DebugProbe]:
    """Every debug probe pyOCD sees now (never waits for one to appear)."""
    try:
        return list(ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False))
    except (exceptions.Error, usb.core.USBError) as exc:
        raise TargetError(f"pyOCD cannot list debug probes: {_one_line(exc)}; {UDEV_HINT}") from exc


def select_probe(unique_id: str, probes: Sequence[DebugProbe]) -> DebugProbe:
    """The one probe whose unique id equals ``unique_id`` (ignoring case; a probe whose id merely contains it is a
    different board and never chosen)."""
    matches = [p for p in probes if p.unique_id.casefold() == unique_id.casefold()]
    if len(matches) == 1:
        return matches[0]
    seen = ", ".join(f"{p.unique_id} ({p.description})" for p in probes) or "none"
    if not matches:
        raise TargetError(f"no debug probe with unique id {unique_id} (probes seen: {seen}); {UDEV_HINT}")
    raise TargetError(f"{len(matches)} debug probes have unique id {unique_id}: {seen}; unplug all but one")


def probe_for(port: str, probe_id: str | None = None) -> DebugProbe:
    """The probe of the board on ``port``: the one named ``probe_id``, else the one whose unique id is the port's USB
    serial number (an ST-LINK's virtual COM port)."""
    return select_probe(probe_id or probe_serial_for_port(port), connected_probes())


def require_pack(pack: str, target_type: str) -> None:
    """UsageError unless the CMSIS pack file (or unpacked directory) exists."""
    if not os.path.exists(pack):
        raise UsageError(f"CMSIS pack {pack} not found (target {target_type}); pass --pyocd-pack PATH to a "
                         f"downloaded Keil.STM32F4xx_DFP.<ver>.pack")


def create_session(probe: DebugProbe, board: Board, project_dir: str | os.PathLike, *,
                   frequency: int = DEFAULT_SWD_HZ, pack: str | None = None) -> Session:
    """A pyOCD ``Session`` (not yet open) for ``board`` on ``probe``: its target type, no config file, the working
    directory unchanged, and no resume on close (so DEMCR keeps the firmware's TRCENA)."""
    target_type = board.settings["pyocd_target"]
    options = {"target_override": target_type, "no_config": True, "project_dir": str(project_dir),
               "frequency": frequency, "resume_on_disconnect": False,
               "connect_mode": board.settings.get("connect_mode", "halt")}
    if pack:
        require_pack(pack, target_type)
        options["pack"] = str(pack)
    cwd = os.getcwd()
    try:
        return Session(probe, **options)
    except exceptions.TargetSupportError as exc:
        raise TargetError(f"target {target_type} needs its CMSIS pack: pass --pyocd-pack "
                          f"PATH/Keil.STM32F4xx_DFP.x.pack (download once on an online machine) or set `pack:` "
                          f"for board {board.name} in boards.yaml (pyOCD: {_one_line(exc)})") from exc
    except exceptions.Error as exc:
        raise TargetError(f"pyOCD cannot set up {target_type} on probe {probe.unique_id}: {_one_line(exc)}") from exc
    finally:
        os.chdir(cwd)


# ---- the ELF and the flash -----------------------------------------------------------------------------------

def parse_build_id(note: bytes) -> str:
    """The hex build id in a raw GNU note (namesz, descsz, type, name padded to 4, desc); "" if it is not one
    (erased flash reads 0xFF)."""
    if len(note) < 12:
        return ""
    namesz, descsz, kind = struct.unpack_from("<3I", note)
    start = 12 + ((namesz + 3) & ~3)
    if kind != NT_GNU_BUILD_ID or namesz > len(note) or start + descsz > len(note):
        return ""
    return note[start:start + descsz].hex()


def flash_segments(elf: Path, flash: MemoryRegion) -> list[tuple[int, bytes]]:
    """``(load address, bytes)`` of every PT_LOAD segment with data that loads into ``flash``."""
    return [(seg.address, seg.data) for seg in load_segments(elf) if flash.origin <= seg.address < flash.end]


def verify_flash(memory, elf: Path, flash: MemoryRegion) -> int:
    """Read every flash segment of ``elf`` back through ``memory`` (``read_memory_block8``) and compare; a mismatch
    is a TargetError naming the first differing address. Returns the bytes checked."""
    checked = 0
    for address, data in flash_segments(elf, flash):
        found = bytes(memory.read_memory_block8(address, len(data)))
        if found != data:
            at = next(i for i, (a, b) in enumerate(zip(data, found, strict=False)) if a != b) \
                if len(found) == len(data) else min(len(found), len(data))
            differ = sum(a != b for a, b in zip(data, found, strict=False))
            raise TargetError(f"flash verify failed at {address + at:#010x}: wrote {data[at]:#04x}, read back "
                              f"{f'{found[at]:#04x}' if at < len(found) else 'nothing'} ({differ} of {len(data)} bytes "
                              f"differ in the segment at {address:#010x}); reflash, and check the flash is not "
                              f"write-protected")
        checked += len(data)
    return checked


def check_fits(memory_map, elf: Path, target_type: str) -> None:
    """Every loadable segment of ``elf`` lies in ``memory_map`` (pyOCD's, for the session's target; a segment may
    span neighbouring regions, such as flash sectors); TargetError naming the first byte outside otherwise."""
    for start, size in ((seg.address, len(seg.data)) for seg in load_segments(elf)):
        address = start
        while address < start + size:
            region = memory_map.get_region_for_address(address)
            if region is None:
                raise TargetError(f"{elf.name} does not fit {target_type}'s memory map: its segment at {start:#010x} "
                                  f"({size} bytes) reaches {address:#010x}, outside it; build it for this board")
            address = region.end + 1


class _ChunkRefusals(logging.Handler):
    """Collects FileProgrammer's "Failed to add data chunk" warnings (a segment it could not place)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Failed to add data chunk"):
            self.messages.append(record.getMessage())


def program_elf(session: Session, elf: Path, progress: Callable[[float], None] | None = None) -> None:
    """Write ``elf``'s segments with pyOCD's FileProgrammer; a segment outside the target's memory map (ours or
    pyOCD's "Failed to add data chunk" warning) fails before anything is written."""
    target_type = session.options.get("target_override")
    check_fits(session.target.memory_map, elf, target_type)
    logger = logging.getLogger(FILE_PROGRAMMER_LOG)
    refusals, level = _ChunkRefusals(), logger.level
    logger.addHandler(refusals)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        programmer = FileProgrammer(session, progress=progress)
        programmer.add_file(str(elf), file_format="elf")
        if refusals.messages:
            raise TargetError(f"{elf.name} does not fit {target_type}'s memory map (pyOCD: {refusals.messages[0]}); "
                              f"build it for this board")
        programmer.commit()
    finally:
        logger.removeHandler(refusals)
        logger.setLevel(level)


# ---- the target ----------------------------------------------------------------------------------------------

class PyocdTarget(Target):
    kind = "pyocd"

    @classmethod
    def open(cls, board: Board, port: str | None = None, **options) -> PyocdTarget:
        return cls(board, port, **options)

    @classmethod
    def preflight(cls, choice, options: dict) -> None:
        """The CMSIS pack the target type needs (``--pyocd-pack`` or the profile's), and the serial port."""
        from harness.preflight import check_port

        pack = options.get("pack") or choice.board.settings.get("pack")
        if pack:
            require_pack(pack, choice.board.settings["pyocd_target"])
        if choice.port:
            check_port(choice.port)

    def __init__(self, board: Board, port: str, *, frequency: int | None = None, pack: str | None = None,
                 progress: Callable[[float], None] | None = None, probe_id: str | None = None):
        """``board`` (backend pyocd) on serial ``port``; ``frequency`` (SWD Hz) and ``pack`` override the board's
        settings; ``progress`` gets the flashing progress as a fraction; ``probe_id`` names the probe when
        ``port`` is not its virtual COM port (the discovery board's external USB-serial adapter)."""
        if board.backend != "pyocd":
            raise UsageError(f"board {board.name} is a {board.backend} board, not a pyOCD one")
        super().__init__(board)
        self.port = port
        self.frequency = frequency or int(board.settings.get("frequency", DEFAULT_SWD_HZ))
        self.pack = pack or board.settings.get("pack")
        self.progress = progress
        self.probe_id = probe_id or board.settings.get("probe")
        self._probe_uid: str | None = None
        self._session: Session | None = None
        self._project_dir: tempfile.TemporaryDirectory | None = None
        self.flashed: bool | None = None  # after load: False if the build id was already on the board

    def describe(self) -> str:
        uid = self._probe_uid or self.probe_id or "?"
        probe = f"virtual bench {uid} (QEMU)" if self.board.emulator else f"stlink:{uid}"
        return f"pyOCD {probe} ({self.board.name}) on {self.port}"

    def load(self, elf: Path, build_id: str) -> None:
        self._check_build_id(Path(elf), build_id)
        if self._link is None:
            self._link = open_port(self.port, self.board.baud, timeout=1.0)
        self.flash(elf, build_id, self._link.reset_input_buffer)

    def flash(self, elf: Path, build_id: str, flush: Callable[[], None] | None) -> bool:
        """Flash ``elf`` unless ``build_id`` is on the board already, verify it, reset into it; ``flush`` runs while
        the core is halted just before that reset (it empties the serial link wherever that is: here, or on a
        farm client across the network, harness/farm/agent.py). True if it flashed."""
        elf = Path(elf)
        self._check_build_id(elf, build_id)
        note = build_id_note(elf)
        with self._connected() as (session, target):
            target.reset_and_halt()  # back on the HSI with interrupts off before any flash operation (module doc)
            on_board = parse_build_id(bytes(target.read_memory_block8(note[0], len(note[1])))) if note else ""
            self.flashed = not (build_id and on_board == build_id)
            if self.flashed:
                self._program(session, elf)
                verify_flash(target, elf, self.board.flash)
            else:
                logging.getLogger(__name__).info("%s: build id %s already flashed; not reflashing",
                                                 self.board.name, build_id)
            self._restart(target, flush)
        return self.flashed

    def reset(self) -> None:
        self.restart(self._link.reset_input_buffer if self._link is not None else None)

    def restart(self, flush: Callable[[], None] | None) -> None:
        """Reset into the loaded firmware; ``flush`` runs while the core is halted (see ``flash``)."""
        with self._connected() as (_, target):
            self._restart(target, flush)

    def close(self) -> None:
        link, self._link = self._link, None
        project_dir, self._project_dir = self._project_dir, None
        try:
            if link is not None:
                link.close()
        finally:
            try:
                self._close_session()
            finally:
                if project_dir is not None:
                    project_dir.cleanup()

    # -- steps (``_open_session`` and ``_program`` are the seams the tests replace: no probe exists there) --

    def _check_build_id(self, elf: Path, build_id: str) -> None:
        note = build_id_note(elf)
        in_elf = parse_build_id(note[1]) if note else ""
        if build_id and in_elf and in_elf != build_id:
            raise UsageError(f"{elf.name} has build id {in_elf}, not the {build_id} it was given with")

    def _restart(self, target, flush: Callable[[], None] | None) -> None:
        """Reset into the firmware with stale input flushed while the core is halted, so the boot banner is the
        first thing the port reads."""
        target.reset_and_halt()
        if flush is not None:
            flush()
        target.reset()

    def _program(self, session: Session, elf: Path) -> None:
        program_elf(session, elf, self.progress)

    @contextmanager
    def _connected(self) -> Iterator[tuple[Session, object]]:
        """An open session and its target for one operation; pyOCD and USB failures become one-line errors."""
        session = self._open_session()
        try:
            with self._translated("operate"):
                yield session, session.target
        finally:
            self._close_session()

    def _open_session(self) -> Session:
        probe = probe_for(self.port, self.probe_id)
        self._probe_uid = probe.unique_id
        if self._project_dir is None:  # empty, so no pyocd.yaml or pyocd_user.py is ever picked up
            self._project_dir = tempfile.TemporaryDirectory(prefix="rp-pyocd-")
        self._session = create_session(probe, self.board, self._project_dir.name, frequency=self.frequency,
                                       pack=self.pack)
        try:
            with self._translated("connect to"):
                self._session.open()
        except BaseException:
            self._close_session()
            raise
        return self._session

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with self._translated("disconnect from"):
                session.close()

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        what = f"{self.board.name} (probe {self._probe_uid or '?'})"
        try:
            yield
        except usb.core.USBError as exc:
            if exc.errno == 16 or "busy" in str(exc).lower():
                node = None if self.probe_id else usb_device_node(self.port)
                who = describe_holders(node) if node else "held by another program"
                raise TargetError(f"debug probe {self._probe_uid} is busy, {who}; close the other debugger "
                                  f"(pyocd, openocd, STM32CubeProgrammer) and retry") from exc
            raise TargetError(f"cannot {doing} {what}: USB error {_one_line(exc)}; {UDEV_HINT}") from exc
        except exceptions.TransferFaultError as exc:
            raise TargetError(f"cannot {doing} {what}: {_one_line(exc)} (flash read-protected? RDP level 1 "
                              f"needs a mass erase with STM32CubeProgrammer)") from exc
        except exceptions.Error as exc:
            raise TargetError(f"cannot {doing} {what}: {_one_line(exc)}; check the board's power and its ST-LINK "
                              f"jumpers, then retry") from exc


__all__ = ["PyocdTarget", "build_id_note", "check_fits", "connected_probes", "create_session", "flash_segments",
           "parse_build_id", "probe_for", "program_elf", "select_probe", "verify_flash"]
