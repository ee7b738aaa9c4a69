"""What ``harness farm exporter-config`` writes and ``harness farm places`` reads: a labgrid exporter configuration
for the boards attached to this host, one group per board (its serial port and the flash agent), each group
preceded by a ``## harness: place=… board=… probe=…`` line. labgrid reads the file as a Jinja2 template, where
``#`` starts a statement, so every comment is ``##`` (docs/notes/labgrid.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError

HEADER = re.compile(r"^## harness: place=(?P<place>\S+) board=(?P<board>\S+) probe=(?P<probe>\S+)$")


@dataclass(frozen=True)
class Attached:
    """A board on this host: its boards.yaml profile, its probe's unique id and its serial port."""
    board: str
    probe: str
    port: str | None      # a device path (a virtual bench's pty) or None: a USB VCP matched by serial number
    baud: int

    @property
    def place(self) -> str:
        """The board and its probe: an ST-LINK's 24-digit id by its last 6 digits, a short id whole."""
        probe = re.sub(r"[^a-z0-9]", "", self.probe.lower())
        return f"{self.board}-{probe if len(probe) <= 12 else probe[-6:]}"


def attached_boards(boards_file=None, probes: tuple[str, ...] = ()) -> list[Attached]:
    """Every probe pyOCD sees here whose board is a boards.yaml profile (``probes``: only these unique ids)."""
    from harness.boards import load_boards
    from harness.dut import board_of_probe
    from harness.targets.pyocd_target import connected_probes
    from harness.targets.virtual_probe import VirtualProbe

    real = {n: b for n, b in load_boards(boards_file).items() if b.on_serial_port}
    found = []
    for probe in connected_probes():
        if probes and probe.unique_id.casefold() not in {p.casefold() for p in probes}:
            continue
        board = board_of_probe(probe, real)
        if board is None:
            continue
        port = probe.registration["pty"] if isinstance(probe, VirtualProbe) else None
        found.append(Attached(board.name, probe.unique_id, port, board.baud))
    return found


def exporter_config(boards: list[Attached], agent_host: str, agent_port: int) -> str:
    lines = ["## labgrid exporter configuration, written by `harness farm exporter-config` (docs/farm.md)"]
    for b in boards:
        serial = ({"RawSerialPort": {"port": b.port, "speed": b.baud}} if b.port else
                  {"USBSerialPort": {"match": {"ID_SERIAL_SHORT": b.probe}, "speed": b.baud}})
        group = {**serial, "NetworkService": {"address": agent_host, "username": "harness", "port": agent_port}}
        lines += [f"## harness: place={b.place} board={b.board} probe={b.probe}", f"{b.place}: {json.dumps(group)}"]
    return "\n".join(lines) + "\n"


def read_places(path: str | Path) -> list[tuple[str, str, str]]:
    """(place/group, board, probe) of each group in an exporter configuration this command wrote."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read the exporter configuration {path}: {exc.strerror or exc}") from exc
    found = [(m["place"], m["board"], m["probe"]) for m in map(HEADER.match, text.splitlines()) if m]
    if not found:
        raise InputError(f"{path} has no `## harness: place=… board=… probe=…` lines: write it with "
                         f"`harness farm exporter-config`")
    return found
