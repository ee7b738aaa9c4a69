"""The C RNNPool and its nonlinearities against the NumPy fixed-point reference: bit for bit."""

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import BuildError
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


@pytest.mark.parametrize("path", ["fast", "generic"])
def test_rnnpool_by_patch_rows_in_any_bands_is_the_whole_layer(path):
    """rp_rnnpool_s8_rows over bands of patch rows (as a streamed stem feeds it) gives rp_rnnpool_s8's bytes, on
    both paths, including the replicate row and column. The generic path is taken for an RNN2 whose input shift the
    fast one does not do (rp_kernels.h)."""
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    a, rp = model.arrays, model.config["rnnpool"]
    r = _p(a, "rnnpool")
    stem = run_fixed(model, cv2.imread(str(ROOT / "fixtures" / "scenes" / "scene-009.png"),
                                       cv2.IMREAD_GRAYSCALE)).layers["stem"]
    q2 = _p(a, "rnn2") if path == "fast" else dict(_p(a, "rnn2"), x_shift=1)
    args = (stem, _p(a, "rnn1"), q2, rp["patch"], rp["stride"], False, r["out_mult"], r["out_shift"])
    whole = hk.rnnpool(*args)
    assert whole.shape == (30, 40, 64) and len(np.unique(whole)) > 50
    if path == "fast":
        want = ops.replicate_pad_br(rnnpool_q(*args))
        assert np.array_equal(whole, want)
    for bands in [tuple(range(1, 30)), (1, 2, 7, 8, 28, 29), (13, 29), (28, 29, 29), (29, 29)]:
        assert np.array_equal(hk.rnnpool(*args, bands=bands), whole), bands
    # a range that stops short of the last patch row leaves the replicate row alone
    assert not hk.rnnpool(*args, bands=(13, 28))[29].any()


def test_rnnpool_rows_refuses_ranges_outside_the_patch_rows():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    a, rp = model.arrays, model.config["rnnpool"]
    r = _p(a, "rnnpool")
    stem = np.zeros((120, 160, 4), np.int8)
    args = (stem, _p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], False, r["out_mult"], r["out_shift"])
    for bands in [(30,), (0,), (5, 5, 29)]:
        with pytest.raises(BuildError, match="rp_rnnpool_s8_rows returned status"):
            hk.rnnpool(*args, bands=bands)
