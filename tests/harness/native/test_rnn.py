"""The C RNNPool and its nonlinearities against the NumPy fixed-point reference: bit for bit."""

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.native import kernels as hk
from harness.model import ops
from harness.model.fixed_ref import _p, rnnpool_q, run_fixed
from harness.model.modelfile import load
from harness.model.qmath import SIGMOID_TABLE, TANH_TABLE, rp_sigmoid_q14, rp_tanh_q14
from harness.model.synthetic import adversarial_images

ROOT = Path(__file__).resolve().parents[3]


def test_the_tables_are_the_specified_ones():
    assert zlib.crc32(TANH_TABLE.astype("<i2").tobytes()) == 0xEFC8EF28  # docs/numerics.md §4.1
    assert zlib.crc32(SIGMOID_TABLE.astype("<i2").tobytes()) == 0x5A0A88DF
    v = np.arange(-(1 << 18) - 5, (1 << 18) + 5, 7)
    assert np.array_equal(hk.tanh_q14(v), rp_tanh_q14(v))
    assert np.array_equal(hk.sigmoid_q14(v), rp_sigmoid_q14(v))
    edges = np.array([-(2**40), -(1 << 17) - 65, -(1 << 17) - 64, -65, -64, -1, 0, 63, 64, (1 << 17) - 65,
                      (1 << 17) - 64, 2**40])
    assert np.array_equal(hk.tanh_q14(edges), rp_tanh_q14(edges))
    assert np.array_equal(hk.sigmoid_q14(edges), rp_sigmoid_q14(edges))


@pytest.mark.parametrize("hard", [False, True])
def test_rnnpool_layer_of_the_default_model_is_bit_exact(hard):
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    a, rp = model.arrays, model.config["rnnpool"]
    r = _p(a, "rnnpool")
    images = adversarial_images(240, 320)
    images["scene-009"] = cv2.imread(str(ROOT / "fixtures" / "scenes" / "scene-009.png"), cv2.IMREAD_GRAYSCALE)
    for name in ("scene-009", "zeros", "checker", "noise"):
        stem = run_fixed(model, images[name]).layers["stem"]
        want = ops.replicate_pad_br(rnnpool_q(stem, _p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], hard,
                                              r["out_mult"], r["out_shift"]))
        got = hk.rnnpool(stem, _p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], hard,
                         r["out_mult"], r["out_shift"])
        assert got.shape == (30, 40, 64) and np.array_equal(got, want), (name, int((got != want).sum()))


def test_rnnpool_scratch_is_small_enough_for_the_m4():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    a, rp = model.arrays, model.config["rnnpool"]
    # the fast path's row summaries' projections (8 stem rows × 39 patch columns) and 8 columns', 16 int32 each,
    # 1,920 B of prepared cells and 2 B of alignment, then an output row (39 × 64)
    size = hk.rnnpool_buffer_size(_p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], (120, 160, 4))
    assert size == (8 * 39 + 8) * 16 * 4 + 1_920 + 2 + 39 * 64 == 24_898
