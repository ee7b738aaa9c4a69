"""Where firmware runs: emulators (QEMU, Renode), the host board, and boards (pyOCD), behind one interface
(``base.Target``).

``open_target(board, port)`` picks the target class from the board's backend (harness/backends.py); each backend
is imported only when used, so a machine without pyOCD or Renode can still run QEMU.
"""

from __future__ import annotations

from harness.boards import Board
from harness.targets.base import Target


def open_target(board: Board, port: str | None = None, **options) -> Target:
    """The board's backend's target; with ``farm=`` (a harness.farm.lease.FarmRequest) a place in a labgrid farm,
    whose board is flashed by the agent beside its probe with the same pyOCD code."""
    if options.get("farm") is not None:
        from harness.targets.labgrid_target import LabgridTarget

        return LabgridTarget.open(board, port, **options)
    options.pop("farm", None)
    return board.spec.target_class().open(board, port, **options)
