"""``harness virtual-bench``: serve a virtual bench board (harness/targets/virtual_bench.py) until stopped.

It prints the pty to pass as the board's port first (``--json``: ``{"pty", "probe", "socket"}``), then serves until
SIGTERM or Ctrl-C, or until the process that started it dies."""

from __future__ import annotations

import json

from harness.cli.common import OK
from harness.options import add
from harness.progress import Progress

DEFAULT_BENCH_BOARD = "virtual-bench-f405"


def cmd_virtual_bench(args) -> int:
    from harness.boards import board
    from harness.errors import UsageError
    from harness.targets.virtual_bench import VirtualBench, die_with_parent

    die_with_parent()
    chosen = board(args.board, args.boards_file)
    if chosen.backend != "pyocd" or chosen.settings.get("emulator") != "qemu":
        raise UsageError(f"board {chosen.name} is not a virtual bench board (boards.yaml needs backend: pyocd and "
                         f"emulator: qemu), e.g. --board {DEFAULT_BENCH_BOARD}")
    bench = VirtualBench(chosen)

    def ready() -> None:
        if args.json:
            print(json.dumps({"pty": bench.pty, "probe": bench.probe_id, "socket": bench.socket_path}), flush=True)
        else:  # the hint first: whoever reads the pty line may stop us at once, and must find the hint written
            Progress().say(f"virtual bench {chosen.name} (QEMU), probe {bench.probe_id}: run the device suite with "
                           f"--board={chosen.name}@{bench.pty}; Ctrl-C stops it")
            print(bench.pty, flush=True)

    bench.serve(ready)
    return OK


def register(sub, bench) -> None:
    v = sub.add_parser("virtual-bench", help="a virtual bench board: pyOCD drives its flash and reset, backed by "
                                             "QEMU; its UART is a pty (printed first)")
    add(v, "--board", default=DEFAULT_BENCH_BOARD, says_default=DEFAULT_BENCH_BOARD,
        note="one whose boards.yaml profile has emulator: qemu")
    add(v, "--boards-file")
    v.add_argument("--json", action="store_true", help='print {"pty", "probe", "socket"} instead of the pty alone')
    v.set_defaults(func=cmd_virtual_bench)
