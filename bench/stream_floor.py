"""What streaming every layer would save (docs/streaming.md): each tensor's ring under the eager row schedule
(harness/codegen/rings.py) against the arena the firmware is built with (layer by layer, its front streamed in
place), for the default model and the QVGA monochrome one at 320x240, and what peak RAM each gives with the
firmware's other RAM as built today.

    .venv/bin/python bench/stream_floor.py [--json]

"rings" is the issue's floor (the sum of the minimum ring sizes); "kernel state" is what the kernels keep while
rows stream (the fused MBConv's three expanded rows and depthwise row, RNNPool's scratch, the candidates, the
upload's ring), all alive at once in a pipeline, where the layer-by-layer arena reuses one region for each.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from harness.build.firmware import build_firmware  # noqa: E402
from harness.codegen.generate import plan_model  # noqa: E402
from harness.codegen.rings import plan_rings  # noqa: E402
from harness.model.modelfile import load  # noqa: E402
from harness.model.quantize import quantize  # noqa: E402
from harness.model.random_init import random_model  # noqa: E402
from harness.model.synthetic import synthetic_images  # noqa: E402
from harness.protocol.rowcode import upload_scratch  # noqa: E402

RAM_GOAL = 65_536


def models():
    yield "default (RPool_Face_M4)", load(ROOT / "fixtures" / "models" / "default.npz")
    mono = random_model("rpool-face-qvga-mono", 0, 240, 320)
    yield "QVGA monochrome (random weights)", quantize(mono, synthetic_images(240, 320, 2, seed=7))


def measure() -> list[dict]:
    out, other = [], None
    for name, model in models():
        graph, today = plan_model(model)
        if other is None:  # the default model's build: the stack reserve, protocol buffers and statics besides the
            build = build_firmware(model, "qemu-stm32f405", "device")  # arena, the same for any model
            other = build.info["ram_bytes"] - build.info["arena_bytes"]
        streamed = plan_rings(graph, upload_scratch(graph.tensors["input"].shape[1]))
        rings = sum(r.bytes for r in streamed.rings)
        out.append({"model": name, "arena_today": today.arena_bytes, "ram_today": today.arena_bytes + other,
                    "other_ram": other, "rings": rings, "kernel_state": streamed.floor - rings,
                    "arena_streamed": streamed.floor, "ram_streamed": streamed.floor + other,
                    "arena_budget_for_64k": RAM_GOAL - other,
                    "ring_rows": {r.tensor: [r.rows, r.height, r.bytes] for r in streamed.rings},
                    "state": dict(streamed.state)})
    return out


def show(result: list[dict]) -> None:
    for r in result:
        print(f"{r['model']}: as built (layer by layer, the front streamed in place) arena {r['arena_today']:,} B, "
              f"RAM {r['ram_today']:,} B "
              f"(other RAM {r['other_ram']:,} B)")
        print(f"  streamed: rings {r['rings']:,} B (the floor) + kernel state {r['kernel_state']:,} B = arena "
              f"{r['arena_streamed']:,} B, RAM {r['ram_streamed']:,} B; 64 KB RAM leaves the arena "
              f"{r['arena_budget_for_64k']:,} B")
        for tensor, (rows, height, nbytes) in r["ring_rows"].items():
            print(f"    {tensor:<12} {rows:>2} of {height:>3} rows  {nbytes:>7,} B")
        for what, nbytes in r["state"].items():
            print(f"    {what:<16}        {nbytes:>7,} B")


if __name__ == "__main__":
    sys.exit(report.main(__doc__, lambda _args: measure(), show))
