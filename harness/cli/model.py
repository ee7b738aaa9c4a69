"""``harness reference``, ``harness model …`` and ``harness bench reference``: the NumPy reference and the model
files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.cli.common import OK, SHOWN, count, load_model, score, size
from harness.options import DEFAULT_MODEL, add, model_path, option
from harness.progress import Progress


def cmd_reference(args) -> int:
    from harness.model.image import load_image
    from harness.model.run import run_reference
    from harness.preflight import check_output_file, check_picture_output

    if args.raw_out:
        check_output_file(args.raw_out, (".npy",), "--raw-out")
    if args.draw:
        check_picture_output(args.draw, "--draw")
    model = load_model(args.model)
    image = load_image(args.image, *model.input_hw)
    run = run_reference(model, image, args.mode, args.threshold)
    if args.raw_out:
        np.save(args.raw_out, run.raw.astype(np.float32))
    if args.draw:
        from harness.pictures.draw import draw_detections, save_picture

        save_picture(draw_detections(image, run.detections), args.draw)
    if args.json:
        out = {"detections": [d.as_dict() for d in run.detections], "model_id": run.model_id, "mode": run.mode}
        if run.fingerprints is not None:
            out["fingerprints"] = dict(run.fingerprints)
        print(json.dumps(out))
        return OK
    print(f"model {run.model_id} ({model.arch}, {run.mode}), image {args.image}: {len(run.detections)} detection(s)")
    for d in run.detections[:SHOWN]:
        print(f"  score {d.score:.3f}  box ({d.x0:.1f}, {d.y0:.1f}) – ({d.x1:.1f}, {d.y1:.1f})")
    if len(run.detections) > SHOWN:
        print(f"  … {len(run.detections) - SHOWN} more (all of them with --json)")
    if run.fingerprints is not None and args.fingerprints:
        print("  layer fingerprints (CRC-32 of the integer tensor, HWC):")
        for name, fp in run.fingerprints.items():
            print(f"  {name:<12} {fp:08x}")
    return OK


def _calibration(model, paths: list[str], synthetic: int):
    from harness.model.image import load_image
    from harness.model.synthetic import synthetic_images

    h, w = model.input_hw
    images = [load_image(p, h, w) for p in paths]
    return images + (synthetic_images(h, w, synthetic, seed=7) if synthetic else [])


def _quantize_and_report(model, args):
    from harness.model.quantize import agreement, layer_errors, quantize

    say = Progress().say
    calib = _calibration(model, args.calib, args.calib_synthetic if not args.calib else 0)
    say(f"quantising with {len(calib)} calibration image(s) …")
    q = quantize(model, calib)
    say(f"{'layer':<14} {'cosine':>9} {'rel L2':>8}")
    for e in layer_errors(q, calib[:2]):
        say(f"{e.name:<14} {e.cosine:9.5f} {e.rel_l2:8.4f}")
    ag = agreement(q, calib[:2])
    say(f"raw outputs: cosine {ag.cosine:.5f}, relative L2 {ag.rel_l2:.4f}; detections: F1 {ag.detection_f1:.3f} "
        f"(float {ag.float_detections}, fixed {ag.fixed_detections})")
    return q


def _check_model_output(path: str) -> None:
    from harness.preflight import check_output_file

    check_output_file(path, (), "-o")


def cmd_model_init(args) -> int:
    from harness.model.modelfile import save
    from harness.model.random_init import random_model

    _check_model_output(args.output)
    m = random_model(args.arch, args.seed, *args.input, nonlinearity=args.nonlinearity)
    if not args.no_quantize:
        m = _quantize_and_report(m, args)
    save(m, args.output)
    print(f"wrote {args.output}: model {m.model_id} ({m.arch}, random weights, seed {args.seed})")
    return OK


def cmd_model_quantize(args) -> int:
    from harness.model.modelfile import save

    _check_model_output(args.output)
    q = _quantize_and_report(load_model(args.model), args)
    save(q, args.output)
    print(f"wrote {args.output}: model {q.model_id} (fixed point)")
    return OK


def cmd_model_import(args) -> int:
    from harness.model.archs import build_config
    from harness.model.edgeml import import_edgeml
    from harness.model.modelfile import save

    build_config(args.arch, *args.input)  # a bad --arch fails here, before PyTorch is loaded
    _check_model_output(args.output)
    m = import_edgeml(args.checkpoint, args.arch, *args.input)
    if args.quantize:
        m = _quantize_and_report(m, args)
    save(m, args.output)
    print(f"wrote {args.output}: model {m.model_id} ({m.arch}, imported from {args.checkpoint})")
    return OK


def cmd_model_info(args) -> int:
    m = load_model(args.model)
    info = {"model_id": m.model_id, "arch": m.arch, "input": f"{m.input_hw[1]}x{m.input_hw[0]}",
            "nonlinearity": m.config["nonlinearity"], "quantized": m.quantized,
            "threshold": m.config["detection"]["score_thresh"],
            "parameters": int(sum(a.size for k, a in m.float_arrays().items()))}
    print(json.dumps(info) if args.json else "\n".join(f"{k:<13} {v}" for k, v in info.items()))
    return OK


def cmd_bench_reference(args) -> int:
    from harness.model.bench import bench_single_core

    path = args.model if args.model != DEFAULT_MODEL or Path(DEFAULT_MODEL).is_file() else None  # None: random
    if path:
        load_model(path)  # a missing or damaged file is one line here, not a child's traceback
    Progress().say(f"benchmarking the references on one core ({args.images} images each) …")
    r = bench_single_core(path, args.images)
    if args.json:
        print(json.dumps({"float_ips": r.float_ips, "fixed_ips": r.fixed_ips}))
    else:
        print(f"reference throughput at {r.input} on one core (model {r.model_id}, {r.images} images):")
        print(f"  float  {r.float_ips:7.2f} images/s")
        print(f"  fixed  {r.fixed_ips:7.2f} images/s")
    return OK


def _calib_options(p) -> None:
    p.add_argument("--calib", nargs="*", default=[], metavar="IMAGE",
                   help="calibration images (any format OpenCV reads). Default: synthetic images")
    p.add_argument("--calib-synthetic", type=count(1), default=8, metavar="N",
                   help="number of synthetic calibration images when --calib is not given. Default: 8")


def register(sub, bench) -> None:
    from harness.model.archs import ARCHS

    r = sub.add_parser("reference", help="run the NumPy reference model on one image")
    add(r, "--model")
    r.add_argument("--image", required=True, help="image file (any size): converted to 8-bit grey and "
                   "letterboxed to the model's input (aspect kept, centred on mid-grey bands)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--float", dest="mode", action="store_const", const="float", help="float32 reference")
    mode.add_argument("--fixed", dest="mode", action="store_const", const="fixed",
                      help="integer reference (what the firmware computes). Default when the model is quantised")
    r.add_argument("--raw-out", metavar="RAW.npy", help="write the raw head outputs (EdgeML order, float32)")
    r.add_argument("--draw", metavar="OUT.png", help="write the (model-size) image with the detections drawn")
    r.add_argument("--threshold", type=score, help="score threshold for reported detections. Default: model's (0.5)")
    r.add_argument("--fingerprints", action="store_true", help="also print per-layer fingerprints (fixed)")
    r.add_argument("--json", action="store_true", help='print {"detections": [{"x0","y0","x1","y1","score"}, …]}')
    r.set_defaults(func=cmd_reference)

    m = sub.add_parser("model", help="create, quantise, import and inspect model files")
    msub = m.add_subparsers(dest="model_command", required=True)
    i = msub.add_parser("init", help="a random-weight model (realistic activation ranges), quantised")
    i.add_argument("--arch", default="rpool-face-m4", help=f"one of {', '.join(sorted(ARCHS))}. Default: rpool-face-m4")
    i.add_argument("--seed", type=count(0), default=0, help="Default: 0")
    i.add_argument("--input", type=size, default=(240, 320), metavar="WxH", help="input size. Default: 320x240")
    i.add_argument("--nonlinearity", choices=("exact", "hard"), default="exact", help="RNN gates. Default: exact")
    i.add_argument("--no-quantize", action="store_true", help="keep the float model only")
    i.add_argument("-o", "--output", required=True, help="output model file (.npz)")
    _calib_options(i)
    i.set_defaults(func=cmd_model_init)
    q = msub.add_parser("quantize", help="float model + calibration images → fixed-point model")
    q.add_argument("model", type=model_path, help=option("--model").meaning)
    q.add_argument("-o", "--output", required=True, help="output model file (.npz)")
    _calib_options(q)
    q.set_defaults(func=cmd_model_quantize)
    e = msub.add_parser("import-edgeml", help="import an EdgeML PyTorch checkpoint (needs the [torch] extra)")
    e.add_argument("checkpoint", help="EdgeML checkpoint (.pth): plain, module.-prefixed or {'weight': …}")
    e.add_argument("--arch", required=True, help=f"one of {', '.join(sorted(ARCHS))}")
    e.add_argument("--input", type=size, default=(240, 320), metavar="WxH", help="input size. Default: 320x240")
    e.add_argument("--quantize", action="store_true", help="also quantise (synthetic or --calib images)")
    e.add_argument("-o", "--output", required=True, help="output model file (.npz)")
    _calib_options(e)
    e.set_defaults(func=cmd_model_import)
    n = msub.add_parser("info", help="describe a model file")
    n.add_argument("model", nargs="?", type=model_path, default=DEFAULT_MODEL, help=option("--model").help)
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=cmd_model_info)

    br = bench().add_parser("reference", help="images/s of the float and fixed references on one core")
    add(br, "--model")
    br.add_argument("--images", type=count(1), default=20, help="images per reference. Default: 20")
    br.add_argument("--json", action="store_true", help='print {"float_ips": …, "fixed_ips": …}')
    br.set_defaults(func=cmd_bench_reference)
