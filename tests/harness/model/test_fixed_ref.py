"""The vectorised fixed-point reference against a naive integer implementation, golden fingerprints and
the int32 accumulator guarantee."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from harness.model import fixed_ref, qmath
from harness.model.modelfile import load
from harness.model.quantize import quantize
from harness.model.random_init import random_model
from harness.model.synthetic import adversarial_images, synthetic_images

from . import slow_fixed

DATA = Path(__file__).resolve().parents[2] / "data"
TINY = DATA / "tiny-m4-64x48-exact.npz"
GOLDEN = DATA / "tiny-m4-64x48-exact.fingerprints.json"


@pytest.fixture(scope="module")
def tiny():
    return load(TINY)


@pytest.fixture(scope="module")
def tiny_hard():
    m = random_model("rpool-face-m4", seed=4, height=48, width=64, nonlinearity="hard")
    return quantize(m, synthetic_images(48, 64, 3, seed=6))


def _images(h, w):
    imgs = adversarial_images(h, w)
    imgs["synthetic"] = synthetic_images(h, w, 1, seed=11)[0]
    return imgs


def _assert_layers_equal(fast, slow):
    for name, want in slow.items():
        got = fast[name].astype(np.int64)
        bad = np.argwhere(got != want)
        assert bad.size == 0, (f"layer {name}: {len(bad)} elements differ, first at {tuple(bad[0])}: "
                               f"vectorised {got[tuple(bad[0])]} vs naive {want[tuple(bad[0])]}")


@pytest.mark.parametrize("image", ["synthetic", "noise", "full"])
def test_vectorised_equals_naive_exact(tiny, image):
    img = _images(48, 64)[image]
    _assert_layers_equal(fixed_ref.run_fixed(tiny, img).layers, slow_fixed.run(tiny, img))


@pytest.mark.parametrize("image", ["synthetic", "checker"])
def test_vectorised_equals_naive_hard(tiny_hard, image):
    img = _images(48, 64)[image]
    _assert_layers_equal(fixed_ref.run_fixed(tiny_hard, img).layers, slow_fixed.run(tiny_hard, img, hard=True))


def test_golden_fingerprints(tiny):
    """Pure integer code: the same fingerprints on every platform. HARNESS_UPDATE_GOLDEN=1 rewrites them."""
    got = {name: dict(fixed_ref.run_fixed(tiny, img).fingerprints) for name, img in _images(48, 64).items()
           if name != "synthetic"}  # synthetic images use OpenCV drawing; keep the golden set pure NumPy
    if os.environ.get("HARNESS_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps({"model_id": tiny.model_id, "images": got}, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["model_id"] == tiny.model_id
    assert got == golden["images"]


def test_fingerprints_cover_device_layers_and_repeat(tiny):
    img = _images(48, 64)["noise"]
    a, b = fixed_ref.run_fixed(tiny, img), fixed_ref.run_fixed(tiny, img)
    assert list(a.fingerprints) == fixed_ref.device_layers(tiny.config)
    assert a.fingerprints == b.fingerprints
    assert len(set(a.fingerprints.values())) == len(a.fingerprints)  # distinct tensors, distinct CRCs


def test_output_dtypes(tiny):
    r = fixed_ref.run_fixed(tiny, _images(48, 64)["noise"])
    assert r.layers["stem"].dtype == np.int8 and r.layers["head0.conf"].dtype == np.dtype("<i2")
    assert r.raw_int.dtype == np.int16 and r.raw.dtype == np.float32


def test_accumulators_fit_int32(monkeypatch):
    """Every value handed to requantize (conv, RNN, add, L2Norm accumulators) fits int32 on extreme inputs."""
    m = random_model("rpool-face-m4", seed=0)
    m = quantize(m, synthetic_images(240, 320, 2, seed=7))
    seen = []

    def spy(acc, mult, shift):
        seen.append(int(np.abs(np.asarray(acc)).max(initial=0)))
        return qmath.requantize(acc, mult, shift)

    monkeypatch.setattr(fixed_ref, "requantize", spy)
    for img in _images(240, 320).values():
        fixed_ref.run_fixed(m, img)
    assert max(seen) < 2**31
