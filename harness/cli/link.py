"""``harness bench link``: the serial link per image, clean and through the fault injector
(harness/targets/faulty_link.py) in the same run, with every result checked against the reference."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from harness.cli.common import DEFAULT_IMAGE, FAILED, OK, add_board_arguments, load_model, open_dut
from harness.options import add


@dataclass
class _Tally:
    seconds: list[float] = field(default_factory=list)
    upload: list[float] = field(default_factory=list)    # seconds until the last chunk's ACK
    compute: list[float] = field(default_factory=list)   # from then to the result
    streamed: int = 0                                    # images whose first layers ran as their rows arrived
    ratio: list[float] = field(default_factory=list)     # image bytes / upload stream bytes
    exact: int = 0
    wrong: int = 0
    errors: list[str] = field(default_factory=list)


def link_images(model, count: int):
    """The first ``count`` fixture scenes (repeated if there are fewer), at the model's input size."""
    from harness.model.image import load_image

    paths = sorted(DEFAULT_IMAGE.parent.glob("scene-*.png"))
    return [load_image(str(paths[i % len(paths)]), *model.input_hw) for i in range(count)]


def _run_images(dut, images, verdicts, tally: _Tally, label: str, progress, unstreamed: _Tally | None = None) -> None:
    """Each image through ``dut`` into ``tally``; with ``unstreamed``, each also right after without streaming into
    that one, so that the emulator's drift between images falls on both alike."""
    for i, image in enumerate(images):
        progress.say(f"  {label}: image {i + 1} of {len(images)}…")
        _run_one(dut, i, image, verdicts, tally)
        if unstreamed is not None and dut.session.last_upload and dut.session.last_upload.streamed:
            dut.session.stream = False
            try:
                _run_one(dut, i, image, verdicts, unstreamed)
            finally:
                dut.session.stream = True


def _run_one(dut, i, image, verdicts, tally: _Tally) -> None:
    from harness.errors import HarnessError

    start = time.monotonic()
    try:
        if tally.errors:  # the failed image may have left the link mid-conversation
            dut.resync()
        report = dut.run(image)
    except HarnessError as exc:
        tally.errors.append(str(exc))
        return
    tally.seconds.append(time.monotonic() - start)
    tally.upload.append(dut.timing["upload_s"])
    tally.compute.append(dut.timing["inference_s"])
    tally.ratio.append(dut.session.last_upload.ratio)
    tally.streamed += dut.session.last_upload.streamed
    match = verdicts(i, image, report)
    tally.exact += match
    tally.wrong += not match


def cmd_bench_link(args) -> int:
    """Seconds per image (upload, inference, result) with and without faults, and whether every result was exact;
    where the device streams, each clean image also unstreamed right after, so the overlap is measured, not
    inferred."""
    from harness.compare.device import Reference
    from harness.progress import Progress
    from harness.targets.faulty_link import FaultyLink, parse_faults

    faults = parse_faults(args.fault) if args.fault else ()
    if args.images < 1:
        from harness.errors import UsageError
        raise UsageError(f"--images {args.images}: give at least 1")
    directions = ("to-device", "from-device") if args.direction == "both" else (args.direction,)
    model = load_model(args.model, fixed=True)
    images = link_images(model, args.images)
    progress = Progress(quiet=args.json or args.quiet)
    wrappers = {}

    def wrap(link):
        if id(link) not in wrappers:
            wrappers[id(link)] = FaultyLink(link, faults, args.seed, directions)
        return wrappers[id(link)] if faults else link

    clean, faulty, whole = _Tally(), _Tally(), _Tally()
    with open_dut(args, model, link_filter=wrap, progress=progress) as dut:
        reference = Reference(model, dut.build.generated)

        def verdict(i, image, report) -> bool:
            return reference.check(image, report).match

        for link in wrappers.values():
            link.enabled = False
        # clean, each image streamed and then again with the upload and the compute one after the other
        _run_images(dut, images, verdict, clean, "clean", progress, unstreamed=whole)
        for link in wrappers.values():
            link.enabled = True
        if faults:
            _run_images(dut, images, verdict, faulty, f"faults {args.fault}", progress)
        stats, runs_on = dut.session.stats, dut.target.describe()
        injected = _merge(w.counts for w in wrappers.values())
    per = faulty if faults else clean
    out = {"board": args.board, "runs_on": runs_on, "faults": args.fault or "", "seed": args.seed,
           "images": args.images, "exact": per.exact, "wrong": per.wrong, "errors": len(per.errors),
           "seconds_per_image": median(per.seconds), "clean_seconds_per_image": median(clean.seconds),
           "clean_exact": clean.exact, "error_messages": per.errors[:3], "injected": injected,
           "codec": dut.session.last_upload.codec if dut.session.last_upload else args.codec,
           "compression_ratio": median(per.ratio), "upload_seconds": median(per.upload),
           # the streamed run: the first layers ran during the upload; the rest after its last row
           "streamed": bool(per.streamed), "after_upload_seconds": median(per.compute),
           # the whole inference's wall time, from an unstreamed run of the same images (its upload's end to the
           # result), and what streaming saved per image: the upload and the compute overlapping
           "compute_seconds": median(whole.compute) if whole.compute else median(per.compute),
           "unstreamed_seconds_per_image": median(whole.seconds),
           "overlap_seconds": median([u - s for u, s in zip(whole.seconds, clean.seconds)]) if whole.seconds else 0.0,
           "link": {"frames_sent": stats.frames_sent, "retransmits": stats.retransmits, "naks": stats.naks,
                    "damaged": stats.damaged, "bytes_sent": stats.bytes_sent, "bytes_received": stats.bytes_received}}
    if faults and out["seconds_per_image"] and out["clean_seconds_per_image"]:
        out["slowdown"] = round(out["seconds_per_image"] / out["clean_seconds_per_image"], 2)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{runs_on}: {args.images} images" + (f" with faults {args.fault} (seed {args.seed})" if faults else ""))
        print(f"  exact {per.exact}, wrong {per.wrong}, errors {len(per.errors)}; per image (median) "
              f"{out['seconds_per_image']} s, clean {out['clean_seconds_per_image']} s"
              + (f" ({out['slowdown']}x)" if "slowdown" in out else ""))
        print(f"  upload {out['upload_seconds']} s ({out['codec']}, {out['compression_ratio']}x smaller), compute "
              f"{out['compute_seconds']} s, " + (f"streamed: {out['after_upload_seconds']} s after the last row, "
                                                 f"{out['unstreamed_seconds_per_image']} s per image unstreamed, "
                                                 f"overlap {out['overlap_seconds']} s (medians)"
                                                 if out["streamed"] else "not streamed (medians)"))
        print(f"  link: {stats.summary()}")
        for message in per.errors[:3]:
            print(f"  error: {message}")
    if per.wrong or clean.wrong or whole.wrong:
        progress.warn("harness: a result differed from the reference")
        return FAILED
    return OK


def median(xs: list[float]) -> float | None:
    return round(sorted(xs)[len(xs) // 2], 3) if xs else None


def _merge(counts) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in counts:
        for direction, kinds in c.items():
            for kind, n in kinds.items():
                out.setdefault(direction, {})[kind] = out.get(direction, {}).get(kind, 0) + n
    return out


def register(sub, bench) -> None:
    bl = bench().add_parser("link", help="seconds per image over the serial link, clean and with injected faults; "
                                      "every result checked against the reference")
    add_board_arguments(bl)
    add(bl, "--model")
    bl.add_argument("--images", type=int, default=5, help="images to send (fixture scenes). Default: 5")
    bl.add_argument("--fault", metavar="KIND:RATE[,KIND:RATE…]",
                    help="faults per byte: flip, drop, duplicate, garbage, burst[:BYTES], stall[:SECONDS] "
                         "(e.g. flip:0.01 or burst:1e-3:64,stall:1e-5:2). Default: none (clean link only)")
    bl.add_argument("--direction", choices=("both", "to-device", "from-device"), default="both",
                    help="which way the faults hit. Default: both")
    bl.add_argument("--seed", type=int, default=0, help="fault injector seed (a run can be replayed). Default: 0")
    bl.add_argument("--json", action="store_true",
                    help='print {"images", "exact", "wrong", "errors", "seconds_per_image", '
                         '"clean_seconds_per_image", "codec", "compression_ratio", "upload_seconds", "streamed", '
                         '"after_upload_seconds", "compute_seconds", "unstreamed_seconds_per_image", '
                         '"overlap_seconds", …}')
    bl.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    bl.set_defaults(func=cmd_bench_link)
