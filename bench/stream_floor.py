"""What streaming every layer would save (docs/streaming.md): each tensor's ring under the eager row schedule
(harness/codegen/rings.py) against the arena the firmware is built with (layer by layer, its front streamed in
place), for the default model and the QVGA monochrome one at 320x240, and what peak RAM each gives with the
firmware's other RAM as built today.

    .venv/bin/python bench/stream_floor.py [--json]

"rings" is the issue's floor (the sum of the minimum ring sizes); "kernel state" is what the kernels keep while
rows stream (the fused MBConv's three expanded rows and depthwise row, RNNPool's scratch, the candidates, the
upload's ring), all alive at once in a pipeline, where the layer-by-layer arena reuses one region for each.
"raster floor" is the least arena any schedule computing each value once in raster order can have with no kernel
temporaries at all (harness/codegen/floor.py): over rings of whole rows (the pipeline issue 18 describes) and, the
least for any kernels, pixel by pixel over line buffers. With the firmware's statics as built and the stack's
high-water from the committed QEMU baseline it gives the least RAM, and the candidates 64 KB would leave room for
when the kernels need nothing else.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from harness.build.firmware import build_firmware  # noqa: E402
from harness.codegen.generate import plan_model  # noqa: E402
from harness.codegen.floor import raster_floor  # noqa: E402
from harness.codegen.graph import CANDIDATE_BYTES  # noqa: E402
from harness.codegen.rings import plan_rings  # noqa: E402
from harness.history.baseline import load_baseline  # noqa: E402
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


def candidates_allowed(graph, upload: int, budget: int) -> int | None:
    """The most candidates the raster floor leaves room for in ``budget`` bytes of arena (None: not even none)."""
    def floor(n: int) -> int:
        t = dict(graph.tensors)
        t["candidates"] = replace(t["candidates"], shape=(1, n, 1), nbytes=n * CANDIDATE_BYTES)
        return raster_floor(replace(graph, tensors=t, max_candidates=n), upload).bytes
    if floor(0) > budget:
        return None
    low, high = 0, graph.max_candidates  # floor(low) fits
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if floor(mid) <= budget else (low, mid - 1)
    return low


def measure() -> list[dict]:
    out, other = [], None
    stack = max(f.stack_bytes for f in load_baseline("qemu-stm32f405", "default").fixtures)
    for name, model in models():
        graph, today = plan_model(model)
        if other is None:  # the default model's build: the stack reserve, protocol buffers and statics besides the
            build = build_firmware(model, "qemu-stm32f405", "device")  # arena, the same for any model
            other = build.info["ram_bytes"] - build.info["arena_bytes"]
            statics = other - build.info["stack_reserve"]
        upload = upload_scratch(graph.tensors["input"].shape[1])
        streamed = plan_rings(graph, upload)
        floor = raster_floor(graph, upload)
        rows = raster_floor(graph, upload, "row")
        ram_floor = floor.bytes + statics + stack
        allows = candidates_allowed(graph, upload, RAM_GOAL - statics - stack)
        rings = sum(r.bytes for r in streamed.rings)
        out.append({"model": name, "arena_today": today.arena_bytes, "ram_today": today.arena_bytes + other,
                    "other_ram": other, "rings": rings, "kernel_state": streamed.floor - rings,
                    "arena_streamed": streamed.floor, "ram_streamed": streamed.floor + other,
                    "arena_budget_for_64k": RAM_GOAL - other,
                    "row_floor": rows.bytes, "row_pipeline": rows.pipeline.bytes,
                    "row_parts": [[p.steps[0], p.steps[-1], p.bytes] for p in rows.parts],
                    "row_ram_floor": rows.bytes + statics + stack,
                    "raster_floor": floor.bytes, "raster_pipeline": floor.pipeline.bytes,
                    "raster_parts": [[p.steps[0], p.steps[-1], p.bytes] for p in floor.parts],
                    "statics": statics, "stack_high_water": stack, "ram_floor": ram_floor,
                    "candidates_kept": graph.max_candidates, "candidates_64k_allows": allows,
                    "floor_windows": dict(floor.pipeline.windows), "floor_carries": dict(floor.pipeline.carries),
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
        parts = ", ".join(f"{a}..{b} {n:,} B" for a, b, n in r["row_parts"][:3])
        print(f"  raster floor, each value once in row order, no kernel temporaries (harness/codegen/floor.py):\n"
              f"    over rings of rows: arena {r['row_floor']:,} B, RAM {r['row_ram_floor']:,} B (every layer "
              f"pipelined: {r['row_pipeline']:,} B; best split: {parts}, …)")
        parts = ", ".join(f"{a}..{b} {n:,} B" for a, b, n in r["raster_parts"][:3])
        print(f"    pixel by pixel over line buffers: arena {r['raster_floor']:,} B "
              f"(every layer pipelined: {r['raster_pipeline']:,} B; best split: {parts}"
              f"{', …' if len(r['raster_parts']) > 3 else ''})")
        print(f"    + statics {r['statics']:,} B + stack high-water {r['stack_high_water']:,} B = RAM "
              f"{r['ram_floor']:,} B against {RAM_GOAL:,} B; 64 KB leaves room for "
              + (f"at most {r['candidates_64k_allows']} of the {r['candidates_kept']} candidates"
                 if r["candidates_64k_allows"] is not None else "no schedule, even with no candidates"))
        print("    pipelined, the MBConv blocks' expanded line buffers: "
              + ", ".join(f"{n} {b:,} B" for n, b in sorted(r["floor_carries"].items())))
        print("    and the largest input windows: " + ", ".join(
            f"{n} {b:,} B" for n, b in sorted(r["floor_windows"].items(), key=lambda kv: -kv[1])[:5]))


if __name__ == "__main__":
    sys.exit(report.main(__doc__, lambda _args: measure(), show))
