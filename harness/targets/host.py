"""The host board: the device firmware built for the host (harness/build/host_firmware.py) run as a process whose
UART is the master side of a pty; the harness opens the other side with pyserial, as it opens a bench board's
/dev/ttyACM0. It speaks the real protocol byte for byte, so the session, Dut, plugin and history run against it in
seconds — a shipped test double, as httpx ships MockTransport. Its ticks are host nanoseconds, never board figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tty
from pathlib import Path

import serial

from harness.boards import Board
from harness.build.host import host_compiler
from harness.errors import TargetError
from harness.targets.base import Target
from harness.targets.emulator import spawn, stop


class HostTarget(Target):
    """One firmware process per target (per xdist worker); killed on close, and by the kernel if the harness dies."""

    kind = "host"

    def __init__(self, board: Board):
        super().__init__(board)
        self.dir = Path(tempfile.mkdtemp(prefix="harness-host-"))
        self.proc: subprocess.Popen | None = None
        self.elf: Path | None = None

    @classmethod
    def preflight(cls, choice, options: dict) -> None:
        host_compiler(None)  # the host's cc builds this board's firmware

    def load(self, elf: Path, build_id: str = "") -> None:
        self.elf = Path(elf)
        self._start()

    def _start(self) -> None:
        self._stop()
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # no echo or newline translation, before the firmware writes its banner
            # Opened before the firmware starts: pyserial's open flushes input, which would drop the banner.
            self._link = serial.Serial(os.ttyname(slave), timeout=1.0, exclusive=True)
            self.proc = spawn([str(self.elf)], self.dir / "firmware.log", stdin=master)
        except (OSError, serial.SerialException) as exc:
            self._stop()
            raise TargetError(f"host board: could not start {self.elf}: {exc}") from exc
        finally:
            os.close(master)  # the firmware holds it now; its exit makes the port read EOF
            os.close(slave)   # pyserial holds its own descriptor

    def reset(self) -> None:
        """The firmware process restarted: a power-on reset with nothing stale in the link."""
        if self.elf is None:
            raise TargetError("host board: nothing loaded to reset")
        self._start()

    def _stop(self) -> None:
        self._drop_link()
        stop(self.proc)
        self.proc = None

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        return f"host process ({os.uname().machine}, {self.elf.name if self.elf else 'no firmware'}), ticks in ns"

