"""What the command modules of harness/cli/ share: the exit statuses, argument types, the model and the board from
the options, and the detections shown in text output."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError, UsageError
from harness.options import DEFAULT_MODEL, add, read_model
from harness.project import SOURCE

OK, FAILED, USAGE = 0, 1, 2  # the exit statuses: harness/cli/__init__.py
SHOWN = 20  # detections listed in text output
DEFAULT_IMAGE = SOURCE.fixtures / "scenes" / "scene-009.png"
MAX_SIDE = 4096  # far above what fits a microcontroller's RAM; a typo such as 32000x240 is refused at once


def exit_status(exc: HarnessError) -> int:
    """FAILED for a test outcome (MismatchError), USAGE for every other HarnessError: the class's exit_code."""
    return exc.exit_code


def count(minimum: int):
    """argparse type: a whole number at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small: at least {minimum}")
        return value

    return parse


def score(text: str) -> float:
    """argparse type of ``--threshold``: a detection score, 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a score: give a number from 0 to 1 (e.g. 0.5)")
    return value


def size(text: str) -> tuple[int, int]:
    """argparse type of ``--input``: '320x240' → (height, width)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 320x240") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"size {text!r} must be positive")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"size {text!r} is too large: at most {MAX_SIDE} pixels a side")
    return h, w


def load_model(path: str | None, fixed: bool = False):
    """The --model's model (harness/options.py); ``fixed``: it must be quantised (the firmware runs integers)."""
    path = path or DEFAULT_MODEL
    model = read_model(path)
    if fixed and not model.quantized:
        raise UsageError(f"model file {path} (model {model.model_id}) is float only and the firmware runs the "
                         f"fixed-point model: quantise it with `harness model quantize {path} -o "
                         f"{Path(path).with_suffix('')}-q.npz` and pass that")
    return model


def add_board_arguments(p) -> None:
    """The options every command that talks to a board takes (detect, doctor, calibrate, bench link)."""
    for name in ("--board", "--boards-file", "--probe", "--pyocd-pack", "--baud", "--codec", "--no-stream",
                 "--allow-clock-fallback"):
        add(p, name)


def board_from_args(args):
    """The ``harness.dut.BoardChoice`` and target options of ``add_board_arguments``' options."""
    from harness.dut import parse_board

    spec = (args.board or "").strip()
    name_port = spec.partition(",")[0]
    if not name_port or name_port.startswith("@") or name_port.endswith("@"):
        from harness.boards import load_boards

        names = ", ".join(sorted(load_boards(args.boards_file)))
        raise UsageError(f"--board={args.board!r} names no board: pass a boards.yaml name ({names}), "
                         "NAME@/dev/ttyACM0 for a real board, or its port /dev/ttyACM0")
    if args.probe is not None and not args.probe.strip():
        raise UsageError("--probe is empty: pass the debug probe's unique id (`pyocd list` shows them)")
    choice = parse_board(spec, args.boards_file, args.probe)
    options = {"pack": args.pyocd_pack} if args.pyocd_pack and choice.board.on_serial_port else {}
    return choice, options


def open_dut(args, model, **kwargs):
    """A ``harness.dut.Dut`` (not started) for the board options of ``args``; ``Dut.start`` checks what it needs
    (the emulator, the port, the pack) before building."""
    from harness.dut import Dut

    choice, options = board_from_args(args)
    return Dut(choice, model, baud=args.baud, codec=args.codec, stream=not args.no_stream, target_options=options,
               allow_clock_fallback=args.allow_clock_fallback, **kwargs)
