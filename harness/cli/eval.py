"""``harness evaluate``, ``harness fixtures`` and ``harness train``: the accuracy side of the command line."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.common import FAILED, OK, count, load_model, score
from harness.errors import UsageError
from harness.options import DEFAULT_FIXTURES, add
from harness.progress import Progress


PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".eps", ".ps")


def _fixtures_folder(path: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        said = "is a file, not a folder" if folder.exists() else "not found"
        raise UsageError(f"fixture directory {folder} {said}: pass --fixtures DIR, or create it with "
                         f"`harness fixtures generate -o {folder}`")
    return folder


def cmd_evaluate(args) -> int:
    from harness.accuracy.evaluation import evaluate_model
    from harness.preflight import check_output_file, unwritable

    if args.plot:
        check_output_file(args.plot, PLOT_SUFFIXES, "--plot")
    if args.draw and (why := unwritable(Path(args.draw) / "x.png")) is not None:
        raise UsageError(f"--draw {args.draw} cannot be written: {why}; choose another folder")
    _fixtures_folder(args.fixtures_dir)
    model = load_model(args.model)
    mode = "fixed" if args.fixed else "float"
    if mode == "fixed" and not model.quantized:
        raise UsageError(f"model {model.model_id} has no fixed-point part; quantise it with "
                         "`harness model quantize` or drop --fixed")
    ev = evaluate_model(model, Path(args.fixtures_dir), mode, args.threshold, progress=Progress().count)
    if args.plot:
        from harness.pictures.plots import save_pr_curve

        save_pr_curve(ev, args.plot)
    if args.draw:
        _draw(model, ev, Path(args.draw))
    if args.json:
        out = {k: v for k, v in ev.overall.as_dict().items()}
        out.update({"mode": ev.mode, "model_id": ev.model_id, "threshold": ev.threshold,
                    "subsets": {k: a.as_dict() for k, a in ev.subsets.items()}})
        print(json.dumps(out))
        return OK
    print(f"model {ev.model_id} ({mode}) on {args.fixtures_dir}: threshold {ev.threshold:g}, IoU 0.5")
    print(f"  {'set':<8} {'images':>6} {'faces':>6} {'AP@0.5':>7} {'precision':>9} {'recall':>7}")
    for name, a in [*sorted(ev.subsets.items()), ("all", ev.overall)]:
        print(f"  {name:<8} {a.images:>6} {a.faces:>6} {a.ap50:7.3f} {a.precision:9.3f} {a.recall:7.3f}")
    if args.plot:
        print(f"  precision/recall curve: {args.plot}")
    if args.draw:
        print(f"  pictures (detections green, ground truth orange): {args.draw}/")
    return OK


def _draw(model, ev, folder: Path) -> None:
    from harness.pictures.draw import draw_detections, save_picture
    from harness.model.detect import Detection
    from harness.model.image import load_image

    for r in ev.images:
        image = load_image(r.item.path, *model.input_hw)
        kept = [d for d in r.detections if d.score >= ev.threshold]
        truths = [Detection(*t, 1.0) for t in r.truths]
        save_picture(draw_detections(image, kept, expected=truths), folder / f"{r.item.name}.png")


def cmd_fixtures_generate(args) -> int:
    from harness.preflight import unwritable
    from harness.scenes.fixtures import generate

    if (why := unwritable(Path(args.output) / "x.png")) is not None:
        raise UsageError(f"-o {args.output} cannot be written: {why}; choose another folder")

    files = generate(Path(args.output), progress=Progress().count)
    print(f"wrote {len(files)} files under {args.output}")
    return OK


def cmd_fixtures_check(args) -> int:
    from harness.scenes.fixtures import check

    diff = check(_fixtures_folder(args.fixtures_dir))
    if diff:
        shown = ", ".join(diff[:5]) + (f" and {len(diff) - 5} more" if len(diff) > 5 else "")
        Progress().warn(f"fixtures differ from what the generator makes: {shown}; regenerate with "
                        f"`harness fixtures generate -o {args.fixtures_dir}`")
        return FAILED
    print(f"fixtures under {args.fixtures_dir} are byte-for-byte what the generator makes")
    return OK


def cmd_train(args) -> int:
    from harness.train.loop import TrainConfig, export, train

    from harness.preflight import unwritable

    cfg = TrainConfig(arch=args.arch, nonlinearity=args.nonlinearity, steps=args.steps, seed=args.seed)
    out = Path(args.out)
    if (why := unwritable(out / "train.json")) is not None:
        raise UsageError(f"--out {out} cannot be written: {why}; choose another folder")

    say = Progress().say
    say(f"training {cfg.arch} ({cfg.nonlinearity}) for {cfg.steps} steps into {out}; interrupt and rerun to resume")
    state = train(cfg, out, progress=say)
    path = export(cfg, state, out, progress=say)
    print(f"wrote {path} and {out / 'train.json'}; install it as the default model with "
          f"`cp {path} fixtures/models/default.npz && cp {out / 'train.json'} fixtures/models/default.train.json`")
    return OK


def register(sub, bench) -> None:
    from harness.model.archs import ARCHS

    e = sub.add_parser("evaluate", help="AP@0.5, precision and recall of a model on the labelled fixtures")
    add(e, "--model")
    e.add_argument("--fixed", action="store_true", help="evaluate the integer reference (default: float)")
    add(e, "--fixtures-dir", "--fixtures")
    e.add_argument("--threshold", type=score, help="operating score threshold. Default: the model's (0.5)")
    e.add_argument("--plot", metavar="PR.png", help="also save the precision/recall curve")
    e.add_argument("--draw", metavar="DIR", help="also draw every image with its detections and ground truth")
    e.add_argument("--json", action="store_true", help='print {"ap50", "precision", "recall", "images", …}')
    e.set_defaults(func=cmd_evaluate)

    f = sub.add_parser("fixtures", help="regenerate or check the labelled fixture images")
    fsub = f.add_subparsers(dest="fixtures_command", required=True)
    g = fsub.add_parser("generate", help="write the fixture scenes and photos (needs the [dev] extra)")
    g.add_argument("-o", "--output", default=DEFAULT_FIXTURES, help="Default: fixtures/")
    g.set_defaults(func=cmd_fixtures_generate)
    c = fsub.add_parser("check", help="regenerate in a temporary folder and compare byte for byte")
    add(c, "--fixtures-dir", "--fixtures")
    c.set_defaults(func=cmd_fixtures_check)

    t = sub.add_parser("train", help="train a detector on copy-paste scenes (needs the [torch] extra; resumable)")
    t.add_argument("--arch", default="rpool-face-m4", choices=sorted(ARCHS), help="Default: rpool-face-m4")
    t.add_argument("--nonlinearity", choices=("exact", "hard"), default="exact",
                   help="RNN gates: exact sigmoid/tanh or the piecewise-linear ones. Default: exact")
    t.add_argument("--steps", type=count(1), default=6000, help="optimiser steps of 32 scenes. Default: 6000")
    t.add_argument("--seed", type=count(0), default=0, help="initialisation and batch order seed. Default: 0")
    t.add_argument("--out", default="out/train", help="run folder (checkpoint, pool, model). Default: out/train")
    t.set_defaults(func=cmd_train)
