"""``harness detect``: the main job. Build (cached), start or flash, stream one image over the serial protocol,
print the device's detections and latency, draw the boxes. And ``harness doctor``: a board checked end to end."""

from __future__ import annotations

import json
import sys

from harness.cli.common import (DEFAULT_IMAGE, FAILED, OK, SHOWN, add_board_arguments, board_from_args, load_model,
                                open_dut)
from harness.options import add, model_name


def _check_detect_args(args) -> None:
    """What detect writes (the picture, the history) is checked before the model is built or run."""
    from harness.preflight import check_picture_output

    if args.output is not None:
        check_picture_output(args.output)
    if args.history is not None:
        from harness.history.store import check_store

        check_store(args.history or None, write=True)


def cmd_detect(args) -> int:
    from harness.compare.device import Reference
    from harness.model.image import load_image
    from harness.progress import Progress

    _check_detect_args(args)
    model = load_model(args.model, fixed=True)
    image = load_image(args.image, *model.input_hw)
    progress = Progress(quiet=args.quiet)
    with open_dut(args, model, dsp=not args.portable, progress=progress) as dut:
        choice = dut.choice
        report = dut.run(image)
        runs_on = dut.target.describe()
        latency = dut.latency(report)
        timing = dict(getattr(dut, "timing", None) or {})
        reference = Reference(model, dut.build.generated)
        verdict = reference.check(image, report)
        memory = {"arena_bytes": report.arena_bytes, "stack_bytes": report.stack_bytes,
                  "ram_bytes": dut.build.info["ram_bytes"], "flash_bytes": dut.build.info["flash_bytes"]}
        run = _history_run(args, dut, reference, image, report) if args.history is not None else None
    if args.output:
        from harness.pictures.draw import draw_detections, save_picture

        save_picture(draw_detections(image, list(verdict.detections)), args.output)
    if args.json:
        print(json.dumps({"detections": [d.as_dict() for d in verdict.detections], "model_id": model.model_id,
                          "mode": "fixed", "board": str(choice), "runs_on": runs_on,
                          "latency": {**latency, **timing}, "memory": memory, "match": verdict.match,
                          "problems": list(verdict.problems)}), flush=True)
    else:
        _print_text(args, choice, runs_on, verdict, latency, memory, timing)
    if run is not None:  # after the output: a store that fails loses no measurement
        recorded = _record(args, run)
        if not args.json:
            print(f"recorded as {recorded}")
    if not verdict.match:
        progress.warn(f"harness: the device disagrees with the reference: {'; '.join(verdict.problems)}")
        return FAILED
    return OK


def _history_run(args, dut, reference, image, report):
    """The single image as a one-fixture run (no gate: one image is no baseline's fixture set)."""
    from pathlib import Path

    from harness.history.collect import assemble_run, fixture_result, run_context
    from harness.history.provenance import provenance

    fixture = fixture_result(Path(args.image).stem, reference, image, [report])
    return assemble_run(run_context(dut, model_name(args.model), 1), [fixture], provenance(), None)


def _record(args, run) -> str:
    from harness.errors import HistoryError
    from harness.history.recording import finish

    sys.stdout.flush()
    outcome = finish(run, args.history or None, record=True, baseline="none")
    if outcome.problems:
        raise HistoryError(f"the run was not recorded: {outcome.problems[0]}")
    return outcome.stored


def _print_text(args, choice, runs_on, verdict, latency, memory, timing) -> None:
    dets = verdict.detections
    print(f"board {choice} ({runs_on}), image {args.image}: {len(dets)} detection(s)")
    for d in dets[:SHOWN]:
        print(f"  score {d.score:.3f}  box ({d.x0:.1f}, {d.y0:.1f}) – ({d.x1:.1f}, {d.y1:.1f})")
    if len(dets) > SHOWN:
        print(f"  … {len(dets) - SHOWN} more (all of them with --json)")
    ms = f" = {latency['ms']:.2f} ms" if "ms" in latency else ""
    after = " after the last row (the first layers ran during the upload)" if timing.get("streamed") else ""
    took = (f"; upload {timing['upload_s']:.2f} s, inference {timing['inference_s']:.2f} s{after}"
            if "upload_s" in timing and "inference_s" in timing else "")
    print(f"latency {latency['total']:,} {latency['unit']}{ms}"
          + ("  (emulator: instructions, not cycles)" if latency["unit"] == "instructions" else "") + took)
    print("  " + "  ".join(f"{name} {ticks:,}" for name, ticks in latency["layers"].items()))
    print(f"memory: arena {memory['arena_bytes']:,} B, stack high-water {memory['stack_bytes']:,} B, "
          f"RAM {memory['ram_bytes']:,} B, flash {memory['flash_bytes']:,} B")
    print("every layer fingerprint matches the fixed-point reference" if verdict.match
          else "MISMATCH with the reference: " + "; ".join(verdict.problems))
    if args.output:
        print(f"wrote {args.output}")


def cmd_doctor(args) -> int:
    """One table for a board: every check passed, failed with its fix, or skipped saying why."""
    from harness.doctor import FAIL, diagnose
    from harness.model.image import load_image
    from harness.progress import Progress

    model = load_model(args.model, fixed=True)
    image = load_image(args.image or str(DEFAULT_IMAGE), *model.input_hw)
    choice, options = board_from_args(args)
    checks = diagnose(choice, model, image, progress=Progress(quiet=args.quiet or args.json), baud=args.baud,
                      target_options=options)
    failed = [c for c in checks if c.status == FAIL]
    if args.json:
        print(json.dumps({"board": str(choice), "ok": not failed, "checks": [c.as_dict() for c in checks]}))
    else:
        width = max(len(c.name) for c in checks)
        print(f"harness doctor: {choice}")
        for c in checks:
            print(f"  {c.status.upper():4}  {c.name:{width}}  {c.detail}" + (f"\n        {'':{width}}  fix: {c.fix}"
                                                                            if c.status == FAIL and c.fix else ""))
        print(f"{len(checks) - len(failed)} of {len(checks)} checks passed or skipped; "
              + (f"{len(failed)} failed: {', '.join(c.name for c in failed)}" if failed else "nothing failed"))
    return FAILED if failed else OK


def register(sub, bench) -> None:
    d = sub.add_parser("detect", help="run the model on a board (emulated or real): detections and latency")
    d.add_argument("image", help="input image (any size: letterboxed to the model's input, as `harness reference`)")
    add_board_arguments(d)
    add(d, "--model")
    d.add_argument("-o", "--output", help="write the image with the detected boxes drawn (.png)")
    d.add_argument("--json", action="store_true", help="print JSON: detections (as `harness reference --json`), "
                   "latency, memory")
    add(d, "--portable")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add(d, "--history", nargs="?", const="", note="the run is recorded there (given without a value: "
        ".harness/history.sqlite)", says_default="not recorded")
    d.set_defaults(func=cmd_detect)

    doc = sub.add_parser("doctor", help="check a board end to end: tools, build, probe and port, flashing, handshake, "
                                        "clock, cycle counter, UART, reset cause, an inference, RAM and stack")
    add_board_arguments(doc)
    add(doc, "--model")
    doc.add_argument("--image", help="image for the test inference. Default: fixtures/scenes/scene-009.png")
    doc.add_argument("--json", action="store_true", help='print {"board", "ok", "checks": [{name, status, '
                                                         'detail, fix}]}')
    doc.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    doc.set_defaults(func=cmd_doctor)
