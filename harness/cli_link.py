"""``harness bench link``: the serial link per image, clean or through the fault injector
(harness/targets/faulty_link.py)."""

from __future__ import annotations

import json

from harness.cli_device import add_board_arguments, open_dut


def cmd_bench_link(args) -> int:
    """Wall time of the serial link per image: upload, inference + result, and the link's throughput."""
    import time

    from harness.cli import _load_model
    from harness.cli_firmware import DEFAULT_IMAGE
    from harness.model.image import load_image

    model = _load_model(args.model)
    image = load_image(str(DEFAULT_IMAGE), *model.input_hw)
    with open_dut(args, model) as dut:
        uploads, runs = [], []
        for _ in range(args.images):
            t0 = time.perf_counter()
            dut.session.upload(image)
            t1 = time.perf_counter()
            dut.session.run_uploaded()
            uploads.append(t1 - t0)
            runs.append(time.perf_counter() - t1)
        stats, runs_on = dut.session.stats, dut.target.describe()
    upload = sorted(uploads)[len(uploads) // 2]
    out = {"board": args.board, "runs_on": runs_on, "images": args.images, "upload_s": round(upload, 3),
           "upload_kB_per_s": round(image.size / upload / 1000, 1),
           "run_and_result_s": round(sorted(runs)[len(runs) // 2], 3), "frames_sent": stats.frames_sent,
           "retransmits": stats.retransmits}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{runs_on}: {args.images} images; per image (median): upload {out['upload_s']} s "
              f"({out['upload_kB_per_s']} kB/s), inference + result + candidates {out['run_and_result_s']} s; "
              f"{stats.frames_sent} frames sent, {stats.retransmits} retransmitted")
    return 0



def register(bsub) -> None:
    bl = bsub.add_parser("link", help="seconds per image over the serial link (upload, inference and result)")
    add_board_arguments(bl)
    bl.add_argument("--model", help="model file. Default: the shipped default model")
    bl.add_argument("--images", type=int, default=5, help="images to send. Default: 5")
    bl.add_argument("--json", action="store_true", help="print the figures as JSON")
    bl.set_defaults(func=cmd_bench_link)
