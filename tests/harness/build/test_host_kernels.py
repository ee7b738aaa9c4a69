"""The C kernels, compiled for the host, against the NumPy fixed-point reference: bit for bit."""

from pathlib import Path

import numpy as np
import pytest

from harness.build import host_kernels as hk
from harness.model import fixed_ref
from harness.model.fixed_ref import _p, run_fixed
from harness.model.modelfile import load
from harness.model.qmath import quantize_multipliers
from harness.scenes.fixtures import load as load_fixtures

ROOT = Path(__file__).resolve().parents[3]


def _quant(rng, n, lo=-14, hi=-4):
    """Per-channel (mult, shift) of random real multipliers, including negative ones."""
    reals = rng.uniform(0.5, 1.0, n) * 2.0 ** rng.integers(lo, hi, n) * rng.choice([-1, 1], n, p=[0.1, 0.9])
    return quantize_multipliers(reals)


def _report(got, want):
    bad = np.argwhere(got != want)
    return f"{len(bad)} mismatches; first at {tuple(bad[0])}: C {got[tuple(bad[0])]}, NumPy {want[tuple(bad[0])]}" \
        if len(bad) else ""


@pytest.mark.parametrize("k,stride,cin,cout,act", [(1, 1, 64, 128, (0, 127)), (1, 1, 128, 32, (-128, 127)),
                                                   (3, 1, 32, 4, (-32768, 32767)), (3, 2, 8, 16, (-128, 127)),
                                                   (3, 1, 5, 3, (0, 127))])
def test_conv2d_matches_reference_on_random_and_extreme_inputs(k, stride, cin, cout, act):
    rng = np.random.default_rng(k * 100 + cin)
    for x in (rng.integers(-128, 128, (13, 17, cin)), np.full((13, 17, cin), -128), np.full((13, 17, cin), 127)):
        w = rng.integers(-128, 128, (cout, k, k, cin))
        bias = rng.integers(-50_000, 50_000, cout)
        mult, shift = _quant(rng, cout)
        want = fixed_ref.conv_s8(x, w, bias, mult, shift, act, stride)
        got = hk.conv2d(x, w, bias, mult, shift, act, stride)
        assert got.shape == want.shape and not _report(got, want), _report(got, want)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_matches_reference(stride):
    rng = np.random.default_rng(stride)
    x = rng.integers(-128, 128, (15, 20, 24))
    w = rng.integers(-128, 128, (3, 3, 24))
    bias = rng.integers(-5000, 5000, 24)
    mult, shift = _quant(rng, 24)
    want = fixed_ref.depthwise_s8(x, w, bias, mult, shift, (0, 127), stride)
    got = hk.depthwise3x3(x, w, bias, mult, shift, (0, 127), stride)
    assert got.shape == want.shape and not _report(got, want), _report(got, want)


def test_add_matches_reference_including_ties_and_saturation():
    rng = np.random.default_rng(9)
    a, b = rng.integers(-128, 128, (7, 9, 32)), rng.integers(-128, 128, (7, 9, 32))
    for ka, kb, real in ((16384, 9000, 2.0 ** -14), (12345, 16384, 2.0 ** -13), (16384, 16384, 2.0 ** -15)):
        (mult,), (shift,) = quantize_multipliers([real])
        want = fixed_ref.add_s8(a, b, ka, kb, mult, shift)
        assert not _report(hk.add(a, b, ka, kb, mult, shift), want)


def test_bad_shapes_are_refused_not_computed():
    x = np.zeros((4, 4, 3), np.int8)
    with pytest.raises(Exception, match="RP_ERR_ARG"):
        hk.conv2d(x, np.zeros((2, 3, 3, 3)), np.zeros(2), np.zeros(2), np.zeros(2), (-128, 127), stride=3)


def test_every_block_and_head_layer_of_the_default_model_is_bit_exact():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    cfg, a, act = model.config, model.arrays, model.config["quant"]["act"]
    image = next(i for i in load_fixtures(ROOT / "fixtures") if i.name == "scenes/scene-009").image()
    L = run_fixed(model, image).layers
    x = L["rnnpool"]
    for i, blk in enumerate(cfg["blocks"]):
        for name, inp in ((f"mb{i}.expand", x), (f"mb{i}.project", L[f"mb{i}.dw"])):
            p = _p(a, name)
            got = hk.conv2d(inp, p["w"], p["bias"], p["mult"], p["shift"], act[name])
            assert np.array_equal(got, L[name]), f"{name}: {_report(got, L[name])}"
        p = _p(a, f"mb{i}.dw")
        got = hk.depthwise3x3(L[f"mb{i}.expand"], p["w"], p["bias"], p["mult"], p["shift"], act[f"mb{i}.dw"],
                              blk["stride"])
        assert np.array_equal(got, L[f"mb{i}.dw"]), f"mb{i}.dw: {_report(got, L[f'mb{i}.dw'])}"
        if blk["residual"]:
            p = _p(a, f"mb{i}.add")
            got = hk.add(x, L[f"mb{i}.project"], p["ka"], p["kb"], p["mult"], p["shift"])
            assert np.array_equal(got, L[f"mb{i}"]), f"mb{i}: {_report(got, L[f'mb{i}'])}"
        x = L[f"mb{i}"]
    for j, hd in enumerate(cfg["heads"]):
        src = L[f"l2norm{j}"] if hd["l2norm"] is not None else L[f"mb{hd['block']}"]
        for part in ("conf", "loc"):
            name = f"head{j}.{part}"
            p = _p(a, name)
            got = hk.conv2d(src, p["w"], p["bias"], p["mult"], p["shift"], act[name])
            assert got.dtype == np.int16 and np.array_equal(got, L[name]), f"{name}: {_report(got, L[name])}"


@pytest.mark.parametrize("in_offset", [-117, 5])
def test_conv2d_input_offset_applies_inside_the_tensor_only(in_offset):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (9, 11, 2))
    w = rng.integers(-128, 128, (4, 3, 3, 2))
    mult, shift = _quant(rng, 4)
    want = fixed_ref.conv_s8(x, w, np.zeros(4, np.int64), mult, shift, (-128, 127), 2, in_offset)
    got = hk.conv2d(x, w, np.zeros(4), mult, shift, (-128, 127), 2, in_offset)
    assert not _report(got, want)
