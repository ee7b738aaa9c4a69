"""``harness calibrate``: fit per-kind latency coefficients for a board and store them beside its profile."""

from __future__ import annotations

import json
import time

from harness.cli.common import DEFAULT_IMAGE, OK, add_board_arguments, board_from_args, load_model
from harness.options import add


def cmd_calibrate(args) -> int:
    from harness.dut import device_measure
    from harness.progress import Progress
    from harness import latency
    from harness.model.image import load_image

    from harness.preflight import check_output_file, preflight

    if args.output:
        check_output_file(args.output, (".json",))
    choice, options = board_from_args(args)
    preflight(choice, options)
    dsp = not args.portable
    progress = Progress()
    model = load_model(args.model, fixed=True)
    image = load_image(str(DEFAULT_IMAGE), *model.input_hw)
    if choice.board.backend == "qemu":  # the self-test firmware: the same counts, no image upload
        measure = latency.selftest_measure(choice.board.name, dsp)
    else:
        measure = device_measure(choice, dsp, progress, baud=args.baud, target_options=options,
                                 allow_clock_fallback=args.allow_clock_fallback)
    start = time.perf_counter()
    progress.say(f"calibrating {choice} ({'DSP path' if dsp else 'portable C'}): 6 models, each built and run …")
    pairs = latency.calibration_set(model, image)
    cal = latency.calibrate(choice.board.name, measure, pairs, progress.say, dsp)
    measured = measure(model, image)  # cached build: the default model's own layers for the table
    works = latency.layer_work(model)
    predicted = latency.predict(cal, works)
    path = latency.save_calibration(cal, args.output)
    progress.say(f"calibrated in {time.perf_counter() - start:.0f} s; wrote {path}")
    layers = [{"name": w.name, "kind": w.kind, "measured": measured[w.name], "predicted": predicted[w.name],
               "error": predicted[w.name] / measured[w.name] - 1} for w in works]
    if args.json:
        print(json.dumps(dict(cal.as_dict(), path=str(path), layers=layers)))
        return OK
    print(f"board {cal.board}  unit {cal.unit}  {'DSP' if cal.dsp else 'portable'} build  {cal.date}  "
          f"models {', '.join(cal.models)}")
    print(f"{'kind':<11} {'samples':>7} {'worst':>7}  coefficients ({cal.unit} per unit)")
    for kind, f in cal.kinds.items():
        coefs = ", ".join(f"{c:.4g}·{n}" if n != "1" else f"{c:.4g}" for n, c in zip(f.features, f.coefficients))
        print(f"{kind:<11} {f.samples:>7} {100 * f.worst_residual:>6.1f}%  {coefs}")
    print(f"\nmodel {model.model_id} at {model.input_hw[1]}x{model.input_hw[0]}:")
    print(f"{'layer':<12} {'kind':<11} {'measured':>12} {'predicted':>12} {'error':>7}")
    for r in layers:
        print(f"{r['name']:<12} {r['kind']:<11} {r['measured']:>12,} {r['predicted']:>12,} {100 * r['error']:>+6.1f}%")
    print(f"wrote {path}")
    return OK


def register(sub, bench) -> None:
    c = sub.add_parser("calibrate", help="fit per-layer latency coefficients for a board (least squares over "
                                         "measured layers)")
    add_board_arguments(c)
    add(c, "--model", note="its layers are tabled (and measured at smaller sizes)")
    add(c, "--portable", note="calibrate that build")
    c.add_argument("--json", action="store_true", help="print the calibration and the model's layers as JSON")
    c.add_argument("-o", "--output", help="calibration file. Default: fixtures/calibration/<board>.json")
    c.set_defaults(func=cmd_calibrate)
