"""Throughput of the NumPy references: images per second on one core at the model's input size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from harness.model.fixed_ref import run_fixed
from harness.model.float_ref import run_float
from harness.model.modelfile import Model
from harness.model.synthetic import synthetic_images

SINGLE_THREAD = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class BenchResult:
    float_ips: float
    fixed_ips: float
    images: int
    input: str
    model_id: str


def _rate(fn, model, images) -> float:
    fn(model, images[0])  # warm-up: table construction, BLAS start-up
    t = time.perf_counter()
    for img in images:
        fn(model, img)
    return len(images) / (time.perf_counter() - t)


def bench_reference(model: Model, count: int = 20) -> BenchResult:
    h, w = model.input_hw
    images = synthetic_images(h, w, count, seed=4242)
    return BenchResult(round(_rate(run_float, model, images), 2),
                       round(_rate(run_fixed, model, images), 2) if model.quantized else 0.0,
                       count, f"{w}x{h}", model.model_id)


def bench_single_core(model_path: str | None, count: int) -> BenchResult:
    """Run the benchmark in a child process whose BLAS is pinned to one thread (it must be set before import)."""
    env = {**os.environ, **SINGLE_THREAD}
    args = [sys.executable, "-m", "harness.model.bench", str(count)] + ([model_path] if model_path else [])
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return BenchResult(**json.loads(out.strip().splitlines()[-1]))


if __name__ == "__main__":  # the child of bench_single_core
    from harness.model.modelfile import load
    from harness.model.random_init import random_model
    from harness.model.quantize import quantize

    n = int(sys.argv[1])
    if len(sys.argv) > 2:
        m = load(sys.argv[2])
    else:
        m = random_model("rpool-face-m4", seed=0)
        m = quantize(m, synthetic_images(*m.input_hw, 4, seed=7))
    print(json.dumps(asdict(bench_reference(m, n))))
