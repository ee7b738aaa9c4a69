"""pyOCD's side of a virtual bench board (harness/targets/virtual_bench.py): a debug probe type and a target type.

Importing this module registers both with pyOCD, the way its plugins and CMSIS packs add theirs: ``VirtualProbe``
as probe type ``virtual`` (so ``ConnectHelper`` lists every registered bench next to the ST-LINKs), and the board's
``pyocd_target`` name (``virtual-stm32f405``) as ``VirtualBenchTarget``. So ``harness.targets.pyocd_target`` runs
unchanged: pyOCD's own ``Session`` builds the board and the target, opens and closes them, and pyOCD's
``FileProgrammer``, ``MemoryLoader`` and ``FlashBuilder`` program it (sector analysis, smart flash, page
programming, the progress callback). Only what a flash algorithm does on the chip is replaced: ``BenchFlash``
(a ``pyocd.flash.flash.Flash``) sends its Init, UnInit, EraseSector, EraseAll and ProgramPage calls over the
bench's control channel instead of running an FLM on the core; ``init`` halts the core first, as ``Flash.init``
does. Memory reads are flash reads on the bench; the bench has no debug access to RAM or registers. The registry of
running benches (written by each bench, read here) is how a pty leads to its probe (harness/targets/serial_port.py).

Control-channel refusals become pyOCD's exceptions (``TransferFaultError``, ``FlashFailure`` and kin,
``ProbeError``), which ``PyocdTarget`` turns into one-line ``TargetError``s as for an ST-LINK.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import tempfile
from pathlib import Path

from pyocd.board.board import Board
from pyocd.board.board_ids import BoardInfo
from pyocd.core import exceptions
from pyocd.core.memory_map import FlashRegion, MemoryMap, MemoryType, RamRegion
from pyocd.core.target import Target, TargetGraphNode
from pyocd.flash.flash import Flash
from pyocd.probe.aggregator import PROBE_CLASSES
from pyocd.probe.debug_probe import DebugProbe
from pyocd.target import TARGET, normalise_target_type_name

PROBE_TYPE = "virtual"
PAGE_SIZE = 0x1000        # the page pyOCD's built-in STM32F4 targets program at a time
REPLY_TIMEOUT = 60.0      # a reset waits for QEMU to start (the board's boot timeout is 20 s)


def registry_dir() -> Path:
    """Where running benches register (one JSON file per pty); per user, so nobody else's entries are trusted."""
    return Path(tempfile.gettempdir()) / f"harness-virtual-bench-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registrations() -> list[dict]:
    """Every running bench's registration (entries of benches that died without cleaning up are skipped)."""
    found = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid = int(entry.get("pid", 0)) if isinstance(entry, dict) else 0
        if pid > 0 and _alive(pid) and os.path.exists(entry.get("socket", "")):
            found.append(entry)
    return found


def registration_for_port(port: str) -> dict | None:
    """The registration of the bench whose pty is ``port`` (or what it links to), or None."""
    real = os.path.realpath(port)
    return next((entry for entry in registrations() if entry["pty"] == real), None)


def flash_sectors(origin: int, size: int) -> list[tuple[int, int]]:
    """``(start, size)`` of the STM32F4 flash sectors (RM0090 3.3): four of 16 KiB, one of 64 KiB, then 128 KiB."""
    sectors, offset = [], 0
    for sector_size in [0x4000] * 4 + [0x10000]:
        if offset < size:
            sectors.append((origin + offset, min(sector_size, size - offset)))
            offset += sector_size
    while offset < size:
        sectors.append((origin + offset, min(0x20000, size - offset)))
        offset += 0x20000
    return sectors


class BenchChannel:
    """The bench's control socket: one JSON request per line, one reply per line."""

    def __init__(self, path: str, probe_id: str):
        self.path, self.probe_id = path, probe_id
        self._sock: socket.socket | None = None
        self._reader = None

    def open(self) -> None:
        try:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(REPLY_TIMEOUT)
            self._sock.connect(self.path)
        except OSError as exc:
            self.close()
            raise exceptions.ProbeDisconnected(f"virtual bench {self.probe_id} does not answer on {self.path} "
                                               f"({exc.strerror or exc}); is `harness virtual-bench` running?") \
                from exc
        self._reader = self._sock.makefile("rb")

    def close(self) -> None:
        for closable in (self._reader, self._sock):
            if closable is not None:
                closable.close()
        self._sock = self._reader = None

    def call(self, op: str, **fields) -> dict:
        if self._sock is None:
            raise exceptions.ProbeError(f"virtual bench {self.probe_id}: the probe is not open")
        try:
            self._sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            line = self._reader.readline()
        except OSError as exc:
            raise exceptions.ProbeDisconnected(f"virtual bench {self.probe_id} went away during {op}: {exc}") \
                from exc
        if not line:
            raise exceptions.ProbeDisconnected(f"virtual bench {self.probe_id} closed its control channel "
                                               f"during {op}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise _refusal(reply.get("kind"), reply.get("error", "refused"), fields.get("address"))
        return reply


def _refusal(kind: str | None, message: str, address: int | None) -> exceptions.Error:
    if kind == "fault":
        return exceptions.TransferFaultError(message, fault_address=address)
    if kind == "flash":
        return exceptions.FlashFailure(message, address=address)
    return exceptions.ProbeError(f"virtual bench: {message}")


class VirtualProbe(DebugProbe):
    """A registered virtual bench, as a pyOCD debug probe (its flash and reset are QEMU's, over the bench's control
    channel)."""

    @classmethod
    def get_all_connected_probes(cls, unique_id=None, is_explicit=False) -> list[VirtualProbe]:
        return [cls(entry) for entry in registrations()]

    @classmethod
    def get_probe_with_id(cls, unique_id, is_explicit=False) -> VirtualProbe | None:
        return next((cls(e) for e in registrations() if e["probe"].casefold() == unique_id.casefold()), None)

    def __init__(self, registration: dict):
        super().__init__()
        self.registration = registration
        self.channel = BenchChannel(registration["socket"], registration["probe"])
        self.clock: int | None = None
        self._open = self._connected = False
        TARGET.setdefault(normalise_target_type_name(registration["pyocd_target"]), VirtualBenchTarget)

    unique_id = property(lambda self: self.registration["probe"])
    description = property(lambda self: "harness virtual bench (QEMU)")
    vendor_name = property(lambda self: "harness")
    product_name = property(lambda self: "virtual bench (QEMU)")
    supported_wire_protocols = property(lambda self: [DebugProbe.Protocol.SWD])
    wire_protocol = property(lambda self: DebugProbe.Protocol.SWD if self._connected else None)
    is_open = property(lambda self: self._open)
    capabilities = property(lambda self: set())

    @property
    def associated_board_info(self) -> BoardInfo:
        """The boards.yaml name and target type, so a bare ``--board=/dev/pts/N`` finds its profile."""
        return BoardInfo(self.registration["board"], self.registration["pyocd_target"], None, "harness")

    def create_associated_board(self) -> Board:
        return Board(self.session, board_info=self.associated_board_info)

    def open(self) -> None:
        self.channel.open()
        self._open = True

    def close(self) -> None:
        self.channel.close()
        self._open = self._connected = False

    def connect(self, protocol=None) -> None:
        self.channel.call("status")
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def set_clock(self, frequency) -> None:
        self.clock = frequency  # there is no wire; kept for describing the session

    def call(self, op: str, **fields) -> dict:
        return self.channel.call(op, **fields)


def bench_memory_map(registration: dict) -> MemoryMap:
    """The bench board's flash (one region per sector size, as pyOCD's built-in STM32F4 targets have it) and RAM,
    from the bench's boards.yaml layout."""
    flash = registration["flash"]
    regions, sectors = [], flash_sectors(flash["origin"], flash["size"])
    for start, size in sectors:
        if regions and regions[-1][2] == size and regions[-1][0] + regions[-1][1] == start:
            regions[-1][1] += size
        else:
            regions.append([start, size, size])
    return MemoryMap(
        *(FlashRegion(start=start, length=length, sector_size=sector, page_size=min(PAGE_SIZE, sector),
                      is_boot_memory=start == flash["origin"], flash_class=BenchFlash, name=f"flash_{i}" if i else
                      "flash") for i, (start, length, sector) in enumerate(regions)),
        *(RamRegion(start=r["origin"], length=r["size"], name=r["name"]) for r in registration["ram"]))


class VirtualBenchTarget(TargetGraphNode):
    """The bench's core as a pyOCD target: halt, resume, reset, reset-and-halt and flash reads over the control
    channel; its flash regions carry ``BenchFlash`` instances as ``CoreSightTarget.create_flash`` would."""

    def __init__(self, session):
        probe = session.probe
        if not isinstance(probe, VirtualProbe):
            raise exceptions.TargetSupportError(f"target type {session.options.get('target_override')} is a harness "
                                                f"virtual bench; it needs its virtual probe, not {probe.description}")
        super().__init__(session, bench_memory_map(probe.registration))
        self.probe = probe
        self.node_name = "virtual-core"
        for region in self.memory_map.iter_matching_regions(type=MemoryType.FLASH):
            region.flash = BenchFlash(self)
            region.flash.region = region

    selected_core = property(lambda self: self)
    trace_enabled = property(lambda self: False)
    core_registers = property(lambda self: {})
    supported_security_states = property(lambda self: (Target.SecurityState.NONSECURE,))

    def init(self) -> None:
        self.probe.connect()
        mode = self.session.options.get("connect_mode")
        if mode == "halt":  # as CortexM connects: the core stops where it is (still on its PLL)
            self.halt()
        elif mode == "under-reset":
            self.reset_and_halt()

    def disconnect(self, resume: bool = True) -> None:
        if resume:
            self.resume()
        self.probe.disconnect()

    def halt(self) -> None:
        self.probe.call("halt")

    def resume(self) -> None:
        self.probe.call("resume")

    def reset(self, reset_type=None) -> None:
        self.session.notify(Target.Event.PRE_RESET, self)
        self.probe.call("reset")
        self.session.notify(Target.Event.POST_RESET, self)

    def reset_and_halt(self, reset_type=None) -> None:
        self.probe.call("reset_and_halt")

    def get_state(self) -> Target.State:
        state = self.probe.call("status")["state"]
        return {"running": Target.State.RUNNING, "locked-up": Target.State.LOCKUP}.get(state, Target.State.HALTED)

    def is_running(self) -> bool:
        return self.get_state() == Target.State.RUNNING

    def is_halted(self) -> bool:
        return self.get_state() == Target.State.HALTED

    def get_memory_map(self) -> MemoryMap:
        return self.memory_map

    # -- memory: flash reads only (MemoryInterface builds read8/16/32 and the blocks on these) --

    def read_memory_block8(self, addr: int, size: int) -> list[int]:
        return list(base64.b64decode(self.probe.call("read", address=addr, length=size)["data"]))

    def read_memory_block32(self, addr: int, size: int) -> list[int]:
        data = bytes(self.read_memory_block8(addr, 4 * size))
        return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]

    def read_memory(self, addr: int, transfer_size: int = 32, now: bool = True):
        value = int.from_bytes(bytes(self.read_memory_block8(addr, transfer_size // 8)), "little")
        return value if now else (lambda: value)

    def write_memory(self, addr: int, data: int, transfer_size: int = 32) -> None:
        self._no_writes(addr)

    def write_memory_block8(self, addr: int, data) -> None:
        self._no_writes(addr)

    def write_memory_block32(self, addr: int, data) -> None:
        self._no_writes(addr)

    def _no_writes(self, addr: int) -> None:
        raise exceptions.TransferFaultError("the virtual bench has no debug writes to memory; flash is programmed "
                                            "through its flash regions", fault_address=addr)


class BenchFlash(Flash):
    """A flash region's algorithm, run by the bench: the same calls ``FlashBuilder`` makes on an FLM, sent over the
    control channel. ``init`` mirrors ``Flash.init``: halt the core (or reset and halt it) before the algorithm's
    Init, which is what sets FLASH_ACR = 0 on the chip and on the bench."""

    def __init__(self, target: VirtualBenchTarget):
        super().__init__(target, None)

    is_erase_all_supported = property(lambda self: True)

    def init(self, operation, address=None, clock=0, reset=False) -> None:
        state = self.target.session.context_state
        current = getattr(state, "current_flash_algo", None)
        if current is not self:
            if current is not None:
                current.cleanup()
            self._did_prepare_target, self._active_operation = False, None
        if not self._did_prepare_target:
            if reset:
                self.target.reset_and_halt()
            else:
                self.target.halt()
            self._did_prepare_target = True
            state.current_flash_algo = self
        if self._active_operation == operation:
            return
        if self._active_operation is not None:
            self.uninit()
        self.target.probe.call("flash_init")
        self._active_operation = operation

    def uninit(self) -> None:
        if self._active_operation is not None:
            self.target.probe.call("flash_uninit")
            self._active_operation = None

    def erase_all(self) -> None:
        assert self._active_operation == self.Operation.ERASE
        self._flash_call(exceptions.FlashEraseFailure, "erase_all")

    def erase_sector(self, address: int) -> None:
        assert self._active_operation == self.Operation.ERASE
        self._flash_call(exceptions.FlashEraseFailure, "erase_sector", address=address)

    def program_page(self, address: int, data) -> None:
        assert self._active_operation == self.Operation.PROGRAM
        self._flash_call(exceptions.FlashProgramFailure, "program", address=address,
                         data=base64.b64encode(bytes(data)).decode())

    program_phrase = program_page

    def _flash_call(self, failure: type[exceptions.FlashFailure], op: str, **fields) -> None:
        try:
            self.target.probe.call(op, **fields)
        except exceptions.FlashFailure as exc:
            raise failure(str(exc), address=fields.get("address")) from exc


PROBE_CLASSES.setdefault(PROBE_TYPE, VirtualProbe)

__all__ = ["BenchChannel", "BenchFlash", "VirtualBenchTarget", "VirtualProbe", "bench_memory_map", "flash_sectors",
           "registration_for_port", "registrations", "registry_dir"]
