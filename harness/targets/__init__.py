"""Where firmware runs: emulators (QEMU, Renode) and boards (pyOCD), behind one interface (``base.Target``).

``open_target(board, port)`` picks the backend from the board profile; each backend is imported only when used,
so a machine without pyOCD or Renode can still run QEMU.
"""

from __future__ import annotations

from harness.boards import Board
from harness.targets.base import Target


def open_target(board: Board, port: str | None = None, **options) -> Target:
    if board.backend == "qemu":
        from harness.targets.qemu import QemuTarget

        return QemuTarget(board)
    if board.backend == "renode":
        from harness.targets.renode import RenodeTarget, require_renode

        require_renode()
        return RenodeTarget(board)
    from harness.targets.pyocd_target import PyocdTarget

    return PyocdTarget(board, port, **options)
