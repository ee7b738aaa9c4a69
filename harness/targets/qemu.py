"""QEMU's netduinoplus2 (STM32F405): a semihosted run to completion, or a ``QemuTarget`` with USART1 on a socket.

``-icount shift=0`` makes TIM2 (prescaler 0) count instructions, deterministically. QEMU is killed when the target
closes, never left running (docs/notes/qemu.md, pitfall 9).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


from harness.boards import Board
from harness.errors import DependencyError, TargetError, TargetTimeout
from harness.targets.base import Target
from harness.targets.emulator import claim_ports, open_link, release_ports, spawn, stop

QEMU = "qemu-system-arm"
MACHINE = ["-M", "netduinoplus2", "-nographic", "-monitor", "none", "-icount", "shift=0"]
SEMIHOSTING = ["-semihosting-config", "enable=on,target=native"]
MAPPED_SRAM = 0x30000  # netduinoplus2 maps 192 KiB of SRAM; the real F405 has 128 KiB (boards.yaml links to that)


def mapped_layout(board_name: str = "qemu-stm32f405", ccm_in_spare_sram: bool = False):
    """A memory map of what QEMU really maps: all 192 KiB of SRAM, or the chip's 128 KiB plus a 64 KiB stand-in
    for the CCM in the SRAM above it (QEMU maps no CCM), for programs that test CCM handling."""
    from harness.boards import MemoryRegion
    from harness.build import linker

    real = linker.memory_map(board_name, linker.board_profile(board_name))
    if ccm_in_spare_sram:
        sram = MemoryRegion("sram", real.ram.origin, 0x20000)
        return linker.MemoryMap(real.flash, sram, MemoryRegion("ccm", sram.end, MAPPED_SRAM - sram.size))
    return linker.MemoryMap(real.flash, MemoryRegion("sram", real.ram.origin, MAPPED_SRAM), None)


def require_qemu() -> str:
    if shutil.which(QEMU) is None:
        raise DependencyError(f"{QEMU} not found; install it with `apt-get install qemu-system-arm`")
    return QEMU


@dataclass(frozen=True)
class SemihostedRun:
    exit_code: int
    output: str


def run_semihosted(elf: Path, timeout: float = 300.0) -> SemihostedRun:
    """Boot ``elf`` with console and exit status via semihosting (no serial link)."""
    cmd = [require_qemu(), *MACHINE, "-serial", "null", *SEMIHOSTING, "-kernel", str(elf)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TargetTimeout(f"{elf.name} did not finish on QEMU within {timeout:.0f} s") from exc
    # QEMU 7.2 writes semihosting console output (SYS_WRITE0) to its stderr, next to its own messages.
    return SemihostedRun(run.returncode, run.stdout + run.stderr)


class QemuTarget(Target):
    """QEMU netduinoplus2 running one ELF, USART1 on a TCP socket (``nodelay=on``: no 44 ms Nagle delay per
    reply) opened with pyserial's ``socket://``. ``wait=on`` holds the machine until the link is connected, so the
    banner is never lost; ``-icount shift=0`` makes TIM2 count instructions. One process per target (per xdist
    worker); killed on close, and by the kernel if the harness dies."""

    kind = "qemu"

    def __init__(self, board: Board, semihosting: bool = False, extra_args: tuple[str, ...] = ()):
        """``extra_args`` go on QEMU's command line (tests: ``-device loader,…`` to preset memory)."""
        super().__init__(board)
        self.semihosting, self.extra_args = semihosting, tuple(extra_args)
        self.dir = Path(tempfile.mkdtemp(prefix="harness-qemu-"))
        self.proc: subprocess.Popen | None = None
        self.elf: Path | None = None
        self.ports: tuple[int, ...] = ()

    @classmethod
    def preflight(cls, choice, options: dict) -> None:
        require_qemu()

    def load(self, elf: Path, build_id: str = "") -> None:
        self.elf = Path(elf)
        self._start()

    def _start(self) -> None:
        self._stop()
        machine = self.board.settings["machine"]
        for attempt in range(3):
            (port,) = self.ports = claim_ports(1)
            # QEMU's -serial options map in order onto USART1, USART2, USART3, …: the board's uart.index picks ours.
            unused = ["-serial", "null"] * int(self.board.uart["index"])
            cmd = [require_qemu(), "-M", machine, *MACHINE[2:], "-chardev",
                   f"socket,id=s0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on", *unused,
                   "-serial", "chardev:s0",
                   *(SEMIHOSTING if self.semihosting else []), *self.extra_args, "-kernel", str(self.elf)]
            self.proc = spawn(cmd, self.dir / "qemu.log")
            try:
                self._link = open_link(f"socket://127.0.0.1:{port}", self.proc, self.dir / "qemu.log",
                                     f"QEMU ({self.elf.name})", self.board.timeouts.boot)
                return
            except TargetError:
                busy = "in use" in (self.dir / "qemu.log").read_text(errors="replace")
                self._stop()
                if not busy or attempt == 2:
                    raise

    def reset(self) -> None:
        """QEMU restarted on the same ELF: a power-on reset with nothing stale in the link."""
        if self.elf is None:
            raise TargetError("QEMU: nothing loaded to reset")
        self._start()

    def wait_exit(self, timeout: float) -> tuple[int, str]:
        """The exit status (semihosting SYS_EXIT) and QEMU's output, where semihosting writes."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TargetTimeout(f"the firmware did not exit within {timeout:g} s") from exc
        return code, (self.dir / "qemu.log").read_text(errors="replace")

    def _stop(self) -> None:
        self._drop_link()
        stop(self.proc)
        self.proc = None
        release_ports(self.ports)
        self.ports = ()

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        return f"QEMU {qemu_version()} {self.board.settings['machine']}, -icount shift=0"


def qemu_version() -> str:
    out = subprocess.run([require_qemu(), "--version"], capture_output=True, text=True).stdout
    return out.split("version", 1)[-1].split()[0] if "version" in out else "?"


def run_probe(source: str, workdir: Path, dsp: bool = True, timeout: float = 900.0) -> dict[str, int]:
    """Build and run a measurement program (its lines ``<label> <value>`` from firmware/runtime/rp_probe.h):
    label → value, hex for ``*_crc`` labels. For kernel tests and benchmarks, which hold whole benchmark layers'
    inputs and outputs at once, so they may use all the SRAM QEMU maps rather than the chip's."""
    from harness.build.cross import build_elf

    main_c = Path(workdir) / f"probe_{'dsp' if dsp else 'portable'}.c"
    main_c.write_text(source)
    elf = build_elf(main_c, main_c.with_suffix(".elf"), dsp=dsp, layout=mapped_layout())
    run = run_semihosted(elf, timeout=timeout)
    if run.exit_code != 0:
        raise TargetError(f"the probe program exited with {run.exit_code}: {run.output[-500:]}")
    pairs = (line.split() for line in run.output.strip().splitlines() if line.count(" ") == 1)
    return {k: int(v, 16) if k.endswith("_crc") else int(v) for k, v in pairs}
