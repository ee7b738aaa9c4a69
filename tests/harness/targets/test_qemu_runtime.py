"""The board runtime (firmware/runtime) on QEMU's STM32F405: UART receive ring, fault report, stack high-water,
build id and the bounded clock setup, driven through programs/runtime_probe.c over USART1.

USART1 (QEMU ``-serial`` #0) is a TCP socket (QemuTarget) served with ``wait=on``, so the machine starts only once the
test is connected and no early output is lost; the test sends commands only after the probe's READY line (bytes
sent before the receiver is on are dropped). QEMU paces nothing, so the echo test uses the echo itself as the
acknowledgement: at most one chunk (smaller than the ring) is in flight.
"""

import contextlib
import dataclasses
import random
import re
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.build.cross import build_elf
from harness.boards import board
from harness.targets.qemu import QemuTarget
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

PROBE = Path(__file__).resolve().parent / "programs" / "runtime_probe.c"
RING = 1024  # RP_UART_RX_SIZE default
TIMEOUT = 10.0


class Probe:
    """The probe's line protocol over a QemuTarget's link."""

    def __init__(self, target: QemuTarget):
        self.target, self.proc = target, target.proc
        target.link.timeout = TIMEOUT

    def send(self, data: bytes) -> None:
        self.target.link.write(data)

    def read_exact(self, n: int) -> bytes:
        data = self.target.link.read(n)
        assert len(data) == n, f"got {len(data)} of {n} bytes in {TIMEOUT} s"
        return data

    def read_line(self) -> str:
        line = self.target.link.read_until(b"\n")
        assert line.endswith(b"\n"), f"no line in {TIMEOUT} s: {line!r}"
        return line[:-1].decode(errors="replace")

    def wait(self) -> tuple[int, str]:
        return self.target.wait_exit(TIMEOUT)


@contextlib.contextmanager
def qemu(elf: Path, semihosting: bool = True):
    with QemuTarget(board("qemu-stm32f405"), semihosting) as target:
        target.load(elf)
        yield Probe(target)


def ready(s: Probe) -> dict[str, str]:
    line = s.read_line()
    assert line.startswith("READY "), line
    return dict(kv.split("=", 1) for kv in line.split()[1:])


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict[bool, Path]:
    """The probe built with and without semihosting (key: RP_SEMIHOSTING)."""
    out = tmp_path_factory.mktemp("runtime")
    return {sh: build_elf(PROBE, out / f"probe-sh{int(sh)}.elf", kernels=False, semihosting=sh)
            for sh in (True, False)}


def test_uart_echo_through_the_receive_ring_is_byte_exact(probe):
    data = random.Random(20).randbytes(4096)  # every byte value, including XON/XOFF, ^C, CR/LF
    chunk = 256
    assert chunk < RING
    with qemu(probe[True]) as s:
        ready(s)
        s.send(b"E" + struct.pack("<I", len(data)))
        echoed = bytearray()
        for i in range(0, len(data), chunk):
            s.send(data[i:i + chunk])
            echoed += s.read_exact(len(data[i:i + chunk]))
        assert bytes(echoed) == data
        assert s.read_line() == "ECHO dropped=0"
        s.send(b"Q")
        assert s.wait()[0] == 0


def test_a_full_ring_drops_and_counts_the_excess(probe):
    n = 3000
    with qemu(probe[True]) as s:
        ready(s)
        s.send(b"O" + struct.pack("<I", n) + bytes(range(256)) * (n // 256) + bytes(n % 256))
        assert s.read_line() == f"OVERFLOW available={RING} dropped={n - RING}"


def _symbol(elf: Path, name: str) -> tuple[int, int]:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    m = re.search(rf"^([0-9a-f]+) ([0-9a-f]+) T {name}$", out, re.M)
    assert m, f"{name} not in {elf}"
    return int(m[1], 16) & ~1, int(m[2], 16)


def test_usart2_on_pa2_pa3_echoes_byte_exact(tmp_path):
    # The Discovery's host UART (boards.yaml stm32f4-discovery): USART2, QEMU's second -serial.
    elf = build_elf(PROBE, tmp_path / "probe-usart2.elf", kernels=False, semihosting=True,
                    defines=["RP_UART_USART=2"])
    on_usart2 = dataclasses.replace(board("qemu-stm32f405"), uart={"index": 1, "name": "USART2"})
    data = random.Random(2).randbytes(512)
    with QemuTarget(on_usart2, True) as target:
        target.load(elf)
        s = Probe(target)
        ready(s)
        s.send(b"E" + struct.pack("<I", len(data)) + data)
        assert s.read_exact(len(data)) == data and s.read_line() == "ECHO dropped=0"


def test_core_coupled_ram_starts_zeroed_whatever_it_held(tmp_path):
    # CCM is NOLOAD: on a board it keeps what the last run left, so Reset_Handler must zero it. QEMU maps no CCM,
    # so the stand-in is the 64 KiB of QEMU's SRAM above the chip's 128 KiB, preset to garbage before boot. The
    # firmware goes in as a raw flash image, as a flash programmer writes it: given the ELF, QEMU's loader would
    # zero every NOLOAD section itself and hide the bug.
    from harness.targets.qemu import mapped_layout

    layout = mapped_layout(ccm_in_spare_sram=True)
    elf = build_elf(PROBE, tmp_path / "probe-ccm.elf", kernels=False, semihosting=True, layout=layout)
    image = tmp_path / "probe-ccm.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(image)], check=True)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xa5" * layout.ccm.size)
    loader = ("-device", f"loader,file={garbage},addr={layout.ccm.origin:#x},force-raw=on")
    with QemuTarget(board("qemu-stm32f405"), True, extra_args=loader) as target:
        target.load(image)
        s = Probe(target)
        info = ready(s)
        s.send(b"Z")
        zero, at = re.fullmatch(r"CCM zero=(\d) at=(\d+)", s.read_line()).groups()
    assert layout.ccm.origin <= int(at) < layout.ccm.end and zero == "1"
    assert int(info["stack"]) > 0  # the stack, at the top of the CCM stand-in, works


def fault_line(elf: Path, command: bytes) -> tuple[str, dict[str, int], int, str]:
    """The probe's fault report for ``command``: the line, its registers, the exit status and QEMU's output."""
    with qemu(elf) as s:
        ready(s)
        s.send(command)
        line = s.read_line()
        code, stderr = s.wait()
    return line, {k: int(v, 16) for k, v in (kv.split("=") for kv in line.split()[1:])}, code, stderr


def test_a_bus_fault_reports_one_hardfault_line_and_exits_0x7e(probe):
    line, regs, code, stderr = fault_line(probe[True], b"F")
    assert re.fullmatch(r"HARDFAULT( \w+=0x[0-9a-f]{8}){8}", line), line
    # Unmapped CCM on QEMU: precise data bus error with a valid BFAR, escalated (FORCED) to HardFault.
    assert regs["cfsr"] == 0x8200 and regs["hfsr"] == 0x40000000 and regs["bfar"] == 0x10000000
    assert regs["context"] == 0xFFFF  # the application said nothing about what it was doing
    start, size = _symbol(probe[True], "fault_probe")
    assert start <= regs["pc"] < start + size
    assert code == 0x7E
    assert line in stderr  # the same line over semihosting


def test_a_fault_with_a_ruined_stack_is_still_reported_from_the_fault_stack(probe):
    # The handler moves to a stack of its own and reads no exception frame outside the stack reserve: without
    # that, its own first push faults again and the core locks up, silently.
    line, regs, code, _ = fault_line(probe[True], b"K")
    assert line.startswith("HARDFAULT ") and code == 0x7E
    assert regs["pc"] == regs["lr"] == regs["psr"] == 0xFFFFFFFF  # no valid frame: not read
    assert regs["cfsr"] & (1 << 12)  # STKERR: stacking the exception frame failed


def test_without_semihosting_console_fault_and_exit_go_to_the_uart(probe):
    with qemu(probe[False], semihosting=False) as s:  # a BKPT 0xAB would now HardFault
        assert s.read_line() == "rp_puts ok"
        ready(s)
        s.send(b"F")
        assert s.read_line().startswith("HARDFAULT pc=0x")
        assert s.read_line() == "EXIT 126"
        assert s.proc.poll() is None  # spins rather than exits


def test_stack_high_water_grows_with_a_large_local_array(probe):
    with qemu(probe[True]) as s:
        info = ready(s)
        s.send(b"S" + struct.pack("<I", 7))
        stack = dict(kv.split("=") for kv in s.read_line().split()[1:])
    before, after, reserve = int(stack["before"]), int(stack["after"]), int(info["stack_size"])
    assert 0 < int(info["stack"]) <= before < 1024, "main's own frames are small"
    # deep()'s frame starts at main's stack pointer, not at the earlier (deeper) mark of other calls.
    assert before < 4096 < after < 4096 + 512 < reserve
    assert int(stack["r"]) == 7 + 7  # big[7] = 7 + 7: the array was really written


def test_build_id_read_by_the_firmware_is_the_one_readelf_reports(probe):
    elf = probe[True]
    notes = subprocess.run(["arm-none-eabi-readelf", "-n", str(elf)], capture_output=True, text=True,
                           check=True).stdout
    expected = re.search(r"Build ID:\s*([0-9a-f]+)", notes)[1]
    with qemu(elf) as s:
        assert ready(s)["build_id"] == expected
    assert len(expected) == 40  # sha1


def test_bounded_clock_setup_returns_on_qemu_and_reports_the_hsi_fallback(probe):
    t0 = time.monotonic()
    with qemu(probe[True]) as s:
        info = ready(s)  # rp_board_init returned: QEMU's RCC never sets a ready bit
    assert time.monotonic() - t0 < 5
    assert info["clock_hz"] == "16000000"
    assert info["clock_status"] == "2"  # RP_CLOCK_HSE_TIMEOUT
