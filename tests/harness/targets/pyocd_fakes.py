"""The stand-ins test_pyocd_target.py drives harness/targets/pyocd_target.py with (no probe or STM32 is attached to
this machine): a pyOCD ``DebugProbe`` with nothing behind it, a pyOCD ``MemoryInterface`` core that models what a
reflash does to FLASH_ACR, a PyocdTarget whose two probe-bound seams act on that core, ELF files written here,
and the port and probe listings as pyserial and pyOCD would report them."""

import os
import struct
import time

import serial.tools.list_ports
from pyocd.core import exceptions
from pyocd.core.memory_interface import MemoryInterface
from pyocd.probe.aggregator import DebugProbeAggregator
from pyocd.probe.debug_probe import DebugProbe
from serial.tools.list_ports_linux import SysFS

from harness.targets.pyocd_target import PyocdTarget, flash_segments

SERIAL = "0671FF3833554B3043164817"
BUILD_ID = bytes(range(0xA0, 0xB4))  # 20 bytes, like --build-id=sha1
FLASH = 0x08000000


class FakeProbe(DebugProbe):
    """A DebugProbe with nothing behind it: opening works, connecting finds no target (or ``open_error``)."""

    def __init__(self, unique_id: str, open_error: Exception | None = None):
        super().__init__()
        self._uid, self.open_error = unique_id, open_error
        self.opened = self.closed = False
        self.clock = None

    unique_id = property(lambda self: self._uid)
    description = property(lambda self: "STM32 STLink (fake)")
    vendor_name = property(lambda self: "STMicroelectronics")
    product_name = property(lambda self: "STM32 STLink")
    supported_wire_protocols = property(lambda self: [])
    is_open = property(lambda self: self.opened and not self.closed)
    capabilities = property(lambda self: set())
    wire_protocol = property(lambda self: None)

    def open(self):
        if self.open_error is not None:
            raise self.open_error
        self.opened = True

    def close(self):
        self.closed = True

    def set_clock(self, frequency):
        self.clock = frequency

    def connect(self, protocol=None):
        raise exceptions.ProbeError("fake probe: no SWD target behind it")


def write_elf(path, segments, note_at=None):
    """A minimal ARM ELF32: one PT_LOAD + PROGBITS section per ``(address, bytes)``; a ``.note.gnu.build-id``
    section over the note placed at ``note_at`` inside the first segment."""
    names = b"\0.text\0.note.gnu.build-id\0.shstrtab\0"
    offset, data, phdrs, shdrs = 52 + 32 * len(segments), b"", b"", [struct.pack("<10I", *[0] * 10)]
    for address, blob in segments:
        phdrs += struct.pack("<8I", 1, offset + len(data), address, address, len(blob), len(blob), 5, 4)
        shdrs.append(struct.pack("<10I", 1, 1, 6, address, offset + len(data), len(blob), 0, 0, 4, 0))
        data += blob
    if note_at is not None:
        base = segments[0][0]
        note_len = 16 + len(BUILD_ID)
        shdrs.append(struct.pack("<10I", 7, 7, 2, note_at, offset + note_at - base, note_len, 0, 0, 4, 0))
    shdrs.append(struct.pack("<10I", names.index(b".shstrtab"), 3, 0, 0, offset + len(data), len(names), 0, 0, 1, 0))
    shoff = offset + len(data) + len(names)
    header = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, FLASH | 1, 52, shoff,
                                                            0x05000400, 52, 32, len(segments), 40, len(shdrs),
                                                            len(shdrs) - 1)
    path.write_bytes(header + phdrs + data + names + b"".join(shdrs))
    return path


def note(build_id: bytes = BUILD_ID) -> bytes:
    return struct.pack("<3I", 4, len(build_id), 3) + b"GNU\0" + build_id


class FakeCore(MemoryInterface):
    """Flash and RAM as bytearrays behind pyOCD's MemoryInterface; resets and flash operations are recorded, and
    the "firmware" prints a banner on the pty whenever the core runs from reset.

    It models what silicon does to a reflash (docs/notes/stm32-silicon.md): a running firmware has the core on
    its 180 MHz PLL; reset-and-halt puts it back on the 16 MHz HSI. pyOCD's F429/F439 flash algorithm writes
    FLASH_ACR = 0 (no wait states) in its Init and never restores it, so flash read at PLL speed after that returns
    garbage (here: every byte inverted) until the next reset."""

    def __init__(self, master_fd: int, link_of):
        self.memory = {FLASH: bytearray(b"\xff" * 0x2000), 0x20000000: bytearray(0x1000)}  # erased flash
        self.master_fd, self.link_of, self.events = master_fd, link_of, []
        self.on_pll, self.acr_zero = True, False  # powered up, running the old firmware

    def flash_init(self):
        """What the flash algorithm's Init does to the chip."""
        self.events.append("flash_init")
        self.acr_zero = True

    def _at(self, addr, size):
        for base, mem in self.memory.items():
            if base <= addr and addr + size <= base + len(mem):
                if base == FLASH and self.on_pll and self.acr_zero:  # 0 wait states at 180 MHz: out of spec
                    return bytearray(b ^ 0xFF for b in mem), addr - base
                return mem, addr - base
        raise exceptions.TransferFaultError("fake memory fault", fault_address=addr)

    def read_memory(self, addr, transfer_size=32, now=True):
        mem, at = self._at(addr, transfer_size // 8)
        return int.from_bytes(mem[at:at + transfer_size // 8], "little")

    def write_memory(self, addr, data, transfer_size=32):
        mem, at = self._at(addr, transfer_size // 8)
        mem[at:at + transfer_size // 8] = data.to_bytes(transfer_size // 8, "little")

    def read_memory_block32(self, addr, size):
        mem, at = self._at(addr, 4 * size)
        return list(struct.unpack(f"<{size}I", mem[at:at + 4 * size]))

    def write_memory_block32(self, addr, data):
        mem, at = self._at(addr, 4 * len(data))
        mem[at:at + 4 * len(data)] = struct.pack(f"<{len(data)}I", *data)

    def reset_and_halt(self, reset_type=None):
        self.events.append("reset_and_halt")
        self.on_pll, self.acr_zero = False, False  # halted at the reset vector, on the HSI; FLASH_ACR at reset
        self._send(b"stale output of the old firmware\n")

    def reset(self, reset_type=None):
        self.events.append("reset")
        self.on_pll, self.acr_zero = True, False  # the firmware boots and switches to its PLL
        self._send(b"banner\n")

    def _send(self, data):
        os.write(self.master_fd, data)
        link, deadline = self.link_of(), time.monotonic() + 2
        while link.in_waiting < len(data) and time.monotonic() < deadline:  # the pty delivers asynchronously
            time.sleep(0.001)


class FakeSession:
    def __init__(self, target):
        self.target, self.closed = target, False

    def close(self):
        self.closed = True


class ScriptedPyocdTarget(PyocdTarget):
    """PyocdTarget whose two probe-bound seams act on ``FakeCore``; see the module docstring."""

    def __init__(self, *args, corrupt_at=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.corrupt_at, self.programmed, self.sessions = corrupt_at, [], []

    def _open_session(self):
        self._session = FakeSession(self.core)
        self.sessions.append(self._session)
        return self._session

    def _program(self, session, elf):
        self.programmed.append(elf)
        self.core.flash_init()
        for address, data in flash_segments(elf, self.board.flash):
            self.core.memory[FLASH][address - FLASH:address - FLASH + len(data)] = data  # the algorithm writes
        if self.corrupt_at is not None:
            self.core.write8(self.corrupt_at, self.core.read8(self.corrupt_at) ^ 0x01)


def st_link_port(monkeypatch, path, serial_number=SERIAL):
    info = SysFS(path)
    info.vid, info.pid, info.serial_number = 0x0483, 0x374B, serial_number
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: [info])


def probes_seen(monkeypatch, probes):
    monkeypatch.setattr(DebugProbeAggregator, "get_all_connected_probes", staticmethod(lambda unique_id=None: probes))
