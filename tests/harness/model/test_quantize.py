"""The quantiser: determinism, parameter ranges, and fixed-vs-float agreement (the figures in the README)."""

import numpy as np
import pytest

from harness.model import qmath
from harness.model.quantize import agreement, layer_errors, quantize
from harness.model.random_init import random_model
from harness.model.synthetic import synthetic_images


@pytest.fixture(scope="module")
def m4():
    return random_model("rpool-face-m4", seed=0)


@pytest.fixture(scope="module")
def calib():
    return synthetic_images(240, 320, 4, seed=7)


@pytest.fixture(scope="module")
def m4q(m4, calib):
    return quantize(m4, calib)


def test_deterministic(m4, m4q, calib):
    assert quantize(m4, calib).model_id == m4q.model_id
    assert quantize(m4, calib[:3]).model_id != m4q.model_id


def test_integer_parameters_are_in_range(m4q):
    for name, a in m4q.arrays.items():
        if name.endswith(".mult") or name.endswith("out_mult"):
            nz = np.abs(a[a != 0].astype(np.int64))
            assert ((nz >= 2**30) & (nz < 2**31)).all(), name
        if name.endswith(".shift"):
            assert ((a >= -31) & (a <= 30)).all(), name
    assert m4q.arrays["q/stem.w"].dtype == np.int8 and m4q.arrays["q/rnn1.w"].dtype == np.int16
    assert m4q.arrays["q/rnn1.w"].shape == (16, 4 + 16) and m4q.arrays["q/mb0.dw.w"].shape == (3, 3, 128)
    assert m4q.config["quant"]["input_offset"] == -117


def test_multiplier_reproduces_scale_ratio(m4q):
    sc = m4q.config["quant"]["scales"]
    m, s = int(m4q.arrays["q/rnnpool.out_mult"]), int(m4q.arrays["q/rnnpool.out_shift"])
    assert m * 2.0 ** (s - 31) == pytest.approx(2**-14 / sc["rnnpool"], rel=1e-9)
    assert qmath.requantize(16384, m, s) == round(1.0 / sc["rnnpool"])


def test_layer_errors_cover_every_layer(m4q, calib):
    errs = {e.name: e for e in layer_errors(m4q, calib[:1])}
    assert set(errs) == set(m4q.config["quant"]["scales"])
    assert errs["stem"].cosine > 0.9999 and errs["rnnpool"].cosine > 0.9999
    assert all(e.cosine > 0.97 for e in errs.values())


def test_fixed_agrees_with_float_m4(m4q):
    """Measured on held-out synthetic images: raw cosine 0.99, relative L2 ≈ 0.13."""
    ag = agreement(m4q, synthetic_images(240, 320, 2, seed=99))
    assert ag.cosine > 0.98 and ag.rel_l2 < 0.2


def test_fixed_agrees_with_float_hard_and_qvga():
    for arch, nl in (("rpool-face-m4", "hard"), ("rpool-face-qvga-mono", "exact")):
        m = random_model(arch, seed=1, nonlinearity=nl)
        q = quantize(m, synthetic_images(240, 320, 2, seed=8))
        ag = agreement(q, synthetic_images(240, 320, 1, seed=98))
        assert ag.cosine > 0.97, (arch, nl, ag)


def _rnn_worst(q, name, x_max):
    w = q.arrays[f"q/{name}.w"].astype(np.int64)
    nin = w.shape[1] - w.shape[0]
    return int((np.abs(w[:, :nin]).sum(axis=1) * x_max + np.abs(w[:, nin:]).sum(axis=1) * 32768).max())


def test_rnn_accumulator_fits_int32_for_any_state(m4, calib):
    """Even with σ(ζ) + σ(ν) ≈ 2 (the state may then grow to the int16 limit) and large weights."""
    arrays = dict(m4.arrays)
    for name in ("rnn1", "rnn2"):
        arrays[f"{name}.zeta"] = np.array(10.0, np.float32)
        arrays[f"{name}.nu"] = np.array(10.0, np.float32)
        arrays[f"{name}.U"] = arrays[f"{name}.U"] * 20
    q = quantize(m4.replace(arrays=arrays), calib[:1])
    assert _rnn_worst(q, "rnn1", 127 << 8) < 2**31
    assert _rnn_worst(q, "rnn2", 32768) < 2**31
    assert int(q.arrays["q/rnn1.zeta"]) + int(q.arrays["q/rnn1.nu"]) > 32000
