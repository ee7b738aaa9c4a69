"""``harness build``, ``harness selftest`` and ``harness bench firmware``: the firmware side of the command line."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.common import DEFAULT_IMAGE, FAILED, OK, load_model
from harness.errors import MismatchError
from harness.options import DEFAULT_BOARD, add
from harness.progress import Progress


def _board(name: str, emulated: bool):
    """The boards.yaml profile, checked before any build; ``emulated``: one QEMU runs (and QEMU is there)."""
    from harness.boards import board
    from harness.errors import UsageError

    profile = board(name)
    if emulated:
        if profile.backend != "qemu":
            raise UsageError(f"this command runs the self-test firmware on QEMU (e.g. --board {DEFAULT_BOARD}); "
                             f"{name} is a {profile.backend} board: use `harness detect IMAGE --board {name}`")
        from harness.targets.qemu import require_qemu

        require_qemu()
    return profile


def cmd_build(args) -> int:
    from harness.build.firmware import build_firmware
    from harness.model.image import load_image

    _board(args.board, emulated=False)
    if args.output:
        from harness.errors import UsageError
        from harness.preflight import unwritable

        if (why := unwritable(Path(args.output) / "firmware.elf")) is not None:
            raise UsageError(f"-o {args.output} cannot be written: {why}; choose another folder")
    model = load_model(args.model, fixed=True)
    image = load_image(args.image, *model.input_hw) if args.image else None
    what = "self-test" if image is not None else "device"
    Progress().say(f"building the {what} firmware for {args.board}, model {model.model_id} …")
    b = build_firmware(model, args.board, None, image, args.output, dsp=not args.portable)
    info = b.info
    if args.json:
        print(json.dumps(dict(info, directory=str(b.directory), cached=b.cached)))
        return OK
    print(f"{'cached' if b.cached else 'built'} {b.elf}")
    print(f"  model {info['model_id']}  board {info['board']}  build id {info['build_id']}")
    print(f"  flash {info['flash_bytes']:,} B   RAM {info['ram_bytes']:,} B (arena {info['arena_bytes']:,}, "
          f"stack reserve {info['stack_reserve']:,})")
    print(f"  {b.json_path}")
    return OK


def _table(outcome) -> None:
    layers = outcome.verdict.layers
    total = outcome.report.total_ticks
    print(f"{'layer':<12} {'crc32':<8} {'match':<5} {'instructions':>13} {'share':>6} {'MACs':>12} {'MACs/instr':>10} "
          f"{'floor':>12} {'x floor':>7}")
    for c in layers:
        rate = f"{c.macs / c.ticks:.2f}" if c.ticks and c.macs else "-"
        match = "yes" if c.match else f"NO (reference {c.expected:08x})"
        print(f"{c.name:<12} {c.actual:08x} {match:<5} {c.ticks:>13,} {100 * c.ticks / total:>5.1f}% "
              f"{c.macs:>12,} {rate:>10} {round(c.floor):>12,} {c.floor_ratio:>7.2f}")
    macs, floor = sum(c.macs for c in layers), sum(c.floor for c in layers)
    print(f"{'total':<12} {'':<8} {'':<5} {total:>13,} {'':>6} {macs:>12,} {macs / total:>10.2f} "
          f"{round(floor):>12,} {total / floor:>7.2f}")
    print("MACs as the kernels perform them; floor = MACs / 2 (SMLAD) + compulsory bytes (inputs, parameters) / 4")


def _run(args):
    from harness.compare.selftest import run_selftest
    from harness.model.image import load_image

    _board(args.board, emulated=True)
    model = load_model(args.model, fixed=True)
    image = load_image(args.image, *model.input_hw)
    Progress().say(f"self-test: building firmware for {args.board} (model {model.model_id}, "
            f"{'portable C' if args.portable else 'DSP path'}), then running it on QEMU …")
    return run_selftest(model, image, args.board, dsp=not args.portable)


def cmd_selftest(args) -> int:
    outcome = _run(args)
    r, info = outcome.report, outcome.build.info
    if args.json:
        print(json.dumps(outcome.as_dict()))
    else:
        _table(outcome)
        for d in outcome.verdict.detections:
            print(f"detection {d.x0:7.1f} {d.y0:7.1f} {d.x1:7.1f} {d.y1:7.1f}  score {d.score:.3f}")
        print(f"instructions {r.total_ticks:,}   arena {r.arena_bytes:,} B   RAM {info['ram_bytes']:,} B   "
              f"stack high-water {r.stack_bytes:,} of {info['stack_reserve']:,} B   build id {r.build_id}")
    if not outcome.verdict.match:
        raise MismatchError("self-test failed: " + "; ".join(outcome.verdict.problems))
    if not args.json:
        print("self-test passed: every layer bit-exact with the reference")
    return OK


def cmd_bench_firmware(args) -> int:
    outcome = _run(args)
    if args.json:
        d = outcome.as_dict()
        print(json.dumps({k: d[k] for k in ("instructions", "macs", "floor", "match", "dsp", "layers")}))
    else:
        _table(outcome)
        print(f"instructions per inference: {outcome.report.total_ticks:,} "
              f"({'portable C' if args.portable else 'DSP path'}; QEMU -icount shift=0, TIM2)")
    return OK if outcome.verdict.match else FAILED


def _common(p, image_required: bool) -> None:
    add(p, "--board")
    add(p, "--model")
    if image_required:
        p.add_argument("--image", default=str(DEFAULT_IMAGE),
                       help=f"input image (grey, resized to the model input). Default: {DEFAULT_IMAGE.name}")
    add(p, "--portable")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub, bench) -> None:
    b = sub.add_parser("build", help="generate and cross-compile the firmware (cached)")
    _common(b, image_required=False)
    b.add_argument("--image", help="bake this image into flash: the self-test variant (emulator only). Default: the "
                   "device variant, which takes images over the UART")
    b.add_argument("-o", "--output", help="output directory. Default: a cache entry under .harness/build")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("selftest", help="run the firmware on QEMU with one image in flash; compare every layer")
    _common(s, image_required=True)
    s.set_defaults(func=cmd_selftest)
    f = bench().add_parser("firmware", help="instructions per inference and per layer on QEMU")
    _common(f, image_required=True)
    f.set_defaults(func=cmd_bench_firmware)
