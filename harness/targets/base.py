"""The one interface every target backend implements (QEMU, Renode, a real board through pyOCD).

A target owns a running board and the byte link to its UART:

    with open_target(board, port=None) as target:   # harness.targets.open_target
        target.load(elf, build_id)                   # start the emulator on it / flash the board (skipped if current)
        target.link.write(b"...")                    # a pyserial object: write, read(n) (short on timeout),
        target.link.read(64)                         #   reset_input_buffer, timeout
        target.reset()                               # the firmware restarts from reset; stale input is flushed

``close`` (also on ``__exit__``) always releases everything: no emulator process, socket, probe or port is left
behind, even after an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import serial

from harness.boards import Board


class Target(ABC):
    kind: str = ""       # "qemu", "renode", "pyocd": what actually runs the firmware (never relabelled)

    def __init__(self, board: Board):
        self.board = board
        self._link: serial.SerialBase | None = None

    @classmethod
    def open(cls, board: Board, port: str | None = None, **options) -> Target:
        """The target for ``board`` (harness.targets.open_target): an emulator or host process takes no port or
        options; a bench board's target overrides this."""
        return cls(board)

    @classmethod  # noqa: B027 - a hook: nothing to check by default
    def preflight(cls, choice, options: dict) -> None:
        """What ``choice`` (a ``harness.dut.BoardChoice``) needs that can be checked before any build: the emulator
        on PATH, a bench board's port and pack (harness.preflight). One-line HarnessError otherwise."""

    def _drop_link(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    @property
    def link(self) -> serial.SerialBase:
        if self._link is None:
            from harness.errors import TargetError
            raise TargetError(f"{self.board.name}: no firmware loaded yet (call load first)")
        return self._link

    @abstractmethod
    def load(self, elf: Path, build_id: str) -> None:
        """Run this firmware: (re)start the emulator with it, or flash the board unless its build id is already
        there, then reset. On return ``link`` is open and the firmware is starting."""

    @abstractmethod
    def reset(self) -> None:
        """Restart the loaded firmware from reset and flush stale input (for a hung or silent firmware)."""

    @abstractmethod
    def close(self) -> None:
        """Release everything; safe to call twice."""

    def check(self) -> None:  # noqa: B027 - a hook: a local board or emulator is always this session's
        """Raise FarmError if the board is no longer this session's (a farm place taken away); else nothing."""

    def properties(self) -> dict[str, str]:
        """Which physical board this is, where that is more than the board's name (a farm's place, exporter and
        probe), for junit properties, the summary and the history; empty by default."""
        return {}

    def describe(self) -> str:
        """One line for reports: what runs the firmware (``QEMU 7.2 netduinoplus2``, ``pyOCD stlink:… on …``)."""
        return f"{self.kind} {self.board.name}"

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
