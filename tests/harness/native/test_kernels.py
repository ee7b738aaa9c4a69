"""The C kernels, compiled for the host, against the NumPy fixed-point reference: bit for bit."""

import ctypes as C
from pathlib import Path

import numpy as np
import pytest

from harness.errors import BuildError
from harness.native import kernels as hk
from harness.model import fixed_ref
from harness.model.fixed_ref import _p, run_fixed
from harness.model.layers import network, sub
from harness.model.modelfile import load
from harness.model.qmath import quantize_multipliers
from harness.scenes.fixtures import load as load_fixtures
from tests.harness.native.l2norm_cases import l2norm_cases

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


def test_pointwise_two_weights_per_multiply_hold_at_the_extreme_sums():
    """The portable pointwise packs two filter rows into one int32 (w0 + w1 2^23, rp_nn_pointwise_s8.c) and splits
    the int64 sum again: at c_in = 256 every product -128 * -128 (S0 = 2^22, the window's top) or -128 * 127 (its
    bottom side) must still come back exact, in either lane."""
    rng = np.random.default_rng(256)
    x = np.full((2, 3, 256), -128)
    x[1] = rng.integers(-128, 128, (3, 256))
    w = np.stack([np.full(256, -128), np.full(256, 127), np.full(256, 127), np.full(256, -128),
                  *rng.integers(-128, 128, (4, 256))])[:, None, None, :]
    bias = rng.integers(-50_000, 50_000, 8)
    mult, shift = _quant(rng, 8, -22, -16)  # |acc| up to 2^22: outputs in range, so an error shows
    want = fixed_ref.conv_s8(x, w, bias, mult, shift, (-128, 127), 1)
    got = hk.conv2d(x, w, bias, mult, shift, (-128, 127), 1)
    assert not _report(got, want), _report(got, want)
    assert len(np.unique(want)) > 4


def test_conv_two_weights_per_multiply_hold_over_long_window_rows():
    """rp_nn_conv_s8's portable path splits each window row's 64-bit sums every 256 products: a row of 3 * 100
    inputs at -128 against filters at -128 and 127 crosses that bound with every partial sum at its extreme."""
    rng = np.random.default_rng(300)
    x = np.full((4, 5, 100), -128)
    w = np.stack([np.full((3, 3, 100), -128), np.full((3, 3, 100), 127), np.full((3, 3, 100), -128),
                  rng.integers(-128, 128, (3, 3, 100))])
    bias = rng.integers(-50_000, 50_000, 4)
    mult, shift = _quant(rng, 4, -24, -18)
    want = fixed_ref.conv_s8(x, w, bias, mult, shift, (-32768, 32767), 1)
    got = hk.conv2d(x, w, bias, mult, shift, (-32768, 32767), 1)
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
    # shifts <= -2 take rp_requantize_fast, the last two (-1, 0) the exact rp_requantize
    for ka, kb, real in ((16384, 9000, 2.0 ** -14), (12345, 16384, 2.0 ** -13), (16384, 16384, 2.0 ** -15),
                         (3, -2, 0.3), (1, 1, 0.7)):
        (mult,), (shift,) = quantize_multipliers([real])
        want = fixed_ref.add_s8(a, b, ka, kb, mult, shift)
        assert (shift <= -2) == (real < 0.25)
        assert not _report(hk.add(a, b, ka, kb, mult, shift), want)


def test_bad_shapes_are_refused_not_computed():
    x = np.zeros((4, 4, 3), np.int8)
    with pytest.raises(Exception, match="RP_ERR_ARG"):
        hk.conv2d(x, np.zeros((2, 3, 3, 3)), np.zeros(2), np.zeros(2), np.zeros(2), (-128, 127), stride=3)


def test_every_block_and_head_layer_of_the_default_model_is_bit_exact():
    """Each kernel of every MBConv sub-layer and head conv, fed the reference's own input, as the registry names them
    (harness/model/layers.py)."""
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    a, act = model.arrays, model.config["quant"]["act"]
    image = next(i for i in load_fixtures(ROOT / "fixtures") if i.name == "scenes/scene-009").image()
    L = run_fixed(model, image).layers

    def conv(name, inp):
        p = _p(a, name)
        got = hk.conv2d(inp, p["w"], p["bias"], p["mult"], p["shift"], act[name])
        assert got.dtype == L[name].dtype and np.array_equal(got, L[name]), f"{name}: {_report(got, L[name])}"

    for layer in network(model.config):
        n, x = layer.name, L.get(layer.inputs[0])
        if layer.kind == "conv_s16":
            conv(n, x)
        if layer.kind != "mbconv":
            continue
        ex, dw, pj = sub(n, "expand"), sub(n, "dw"), sub(n, "project")
        conv(ex, x)
        conv(pj, L[dw])
        p = _p(a, dw)
        got = hk.depthwise3x3(L[ex], p["w"], p["bias"], p["mult"], p["shift"], act[dw], layer.spec["stride"])
        assert np.array_equal(got, L[dw]), f"{dw}: {_report(got, L[dw])}"
        if layer.spec["residual"]:
            p = _p(a, sub(n, "add"))
            got = hk.add(x, L[pj], p["ka"], p["kb"], p["mult"], p["shift"])
            assert np.array_equal(got, L[n]), f"{n}: {_report(got, L[n])}"


@pytest.mark.parametrize("in_offset", [-117, 5])
def test_conv2d_input_offset_applies_inside_the_tensor_only(in_offset):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (9, 11, 2))
    w = rng.integers(-128, 128, (4, 3, 3, 2))
    mult, shift = _quant(rng, 4)
    want = fixed_ref.conv_s8(x, w, np.zeros(4, np.int64), mult, shift, (-128, 127), 2, in_offset)
    got = hk.conv2d(x, w, np.zeros(4), mult, shift, (-128, 127), 2, in_offset)
    assert not _report(got, want)


@pytest.mark.parametrize("h,w,cout,in_offset", [(240, 320, 4, -117), (9, 11, 4, -117), (10, 7, 8, 0),
                                                 (5, 6, 1, -255), (3, 3, 3, 40), (1, 1, 2, -117), (2, 5, 9, -117)])
def test_stem_matches_reference_on_odd_and_even_sizes_extremes_and_every_shift(h, w, cout, in_offset):
    """rp_conv2d_u8_s8: the stem's own path (3x3, stride 2, one channel, up to 8 outputs: the folded bias, the
    interior and padded pixels) and, for 9 outputs, the generic one."""
    rng = np.random.default_rng(h * w + cout)
    for x in (rng.integers(0, 256, (h, w, 1)), np.zeros((h, w, 1)), np.full((h, w, 1), 255)):
        wt, bias = rng.integers(-127, 128, (cout, 3, 3, 1)), rng.integers(-50_000, 50_000, cout)
        mult, shift = _quant(rng, cout, lo=-14, hi=2)  # shifts from -15 to 1: each requantize path
        for act in ((0, 127), (-128, 127)):
            want = fixed_ref.conv_s8(x, wt, bias, mult, shift, act, 2, in_offset)
            got = hk.conv2d(x.astype(np.uint8), wt, bias, mult, shift, act, 2, in_offset)
            assert got.shape == want.shape and not _report(got, want), _report(got, want)


@pytest.mark.parametrize("h,w,cout", [(240, 320, 4), (9, 11, 4), (10, 7, 9)])
def test_stem_by_output_rows_reads_and_writes_only_its_window(h, w, cout):
    """rp_conv2d_u8_s8_rows, as a streamed image feeds it: each band of output rows equals the whole layer's rows,
    computed from the input rows its contract names (the others garbage), and no other output row is written."""
    rng = np.random.default_rng(h + cout)
    x = rng.integers(0, 256, (h, w, 1)).astype(np.uint8)
    wt, bias = rng.integers(-127, 128, (cout, 3, 3, 1)), rng.integers(-50_000, 50_000, cout)
    mult, shift = _quant(rng, cout, lo=-14, hi=2)
    args = (wt, bias, mult, shift, (0, 127), 2, -117)
    whole = hk.conv2d_u8(x, *args)
    ho = whole.shape[0]
    for first, end in [(0, 1), (1, 2), (0, ho), (ho - 1, ho), (ho // 3, ho // 2 + 1)]:
        seen = np.full_like(x, 0x5A)  # garbage outside the rows it may read
        lo, hi = max(2 * first - 1, 0), min(2 * (end - 1) + 1, h - 1)
        seen[lo:hi + 1] = x[lo:hi + 1]
        out = np.full_like(whole, 99)
        hk.conv2d_u8(seen, *args, rows=(first, end), out=out)
        assert np.array_equal(out[first:end], whole[first:end]), (first, end)
        assert (out[:first] == 99).all() and (out[end:] == 99).all(), (first, end)
    for bad in [(0, 0), (-1, 1), (0, ho + 1), (2, 1)]:
        with pytest.raises(BuildError, match="rp_conv2d_u8_s8_rows returned status"):
            hk.conv2d_u8(x, *args, rows=bad)


@pytest.mark.parametrize("case", l2norm_cases(), ids=lambda c: c[0])
def test_l2norm_matches_reference(case):
    _, x, mult, shift = case
    assert not _report(hk.l2norm(x, mult, shift), fixed_ref.l2norm_s8(x, mult, shift))


def _pointwise_ref(x, w, bias, mult, shift, act):
    """fixed_ref.conv_s8 with a 1x1 filter over x (n, c_in) as a 1-row image."""
    return fixed_ref.conv_s8(x[None], w[:, None, None, :], bias, mult, shift, act)[0]


@pytest.mark.parametrize("n,cin,cout", [(1200, 64, 128), (40, 128, 32), (7, 13, 5), (9, 3, 2), (1, 1, 1), (6, 130, 66),
                                        (2, 300, 9), (5, 64, 127), (3, 8, 12), (11, 33, 7), (0, 4, 4)])
def test_pointwise_matches_reference_on_random_shapes(n, cin, cout):
    rng = np.random.default_rng(n * 1000 + cin * 10 + cout)
    x = rng.integers(-128, 128, (n, cin))
    w = rng.integers(-128, 128, (cout, cin))
    bias = rng.integers(-100_000, 100_000, cout)
    mult, shift = _quant(rng, cout, -16, 2)  # negative multipliers and shifts up to +1 included
    for act in ((0, 127), (-128, 127), (-77, 55)):
        want = _pointwise_ref(x, w, bias, mult, shift, act)
        got = hk.pointwise(x, w, bias, mult, shift, act)
        assert got.shape == want.shape and not _report(got, want), _report(got, want)


def test_pointwise_extremes_saturation_and_large_shifts():
    """All -128 / all 127 operands (the largest accumulators), zero multipliers, shifts from -31 to +30."""
    rng = np.random.default_rng(17)
    cin, cout = 128, 40
    shift = np.linspace(-31, 30, cout).astype(np.int32)
    mult = (rng.integers(1 << 30, (1 << 31) - 1, cout) * rng.choice([-1, 1], cout)).astype(np.int32)
    mult[::7] = 0
    for xv, wv in ((-128, -128), (-128, 127), (127, 127)):
        x, w = np.full((5, cin), xv), np.full((cout, cin), wv)
        w[1::2] = rng.integers(-128, 128, (cout // 2, cin))
        bias = rng.integers(-1 << 20, 1 << 20, cout)
        for act in ((-128, 127), (0, 127)):
            want = _pointwise_ref(x, w, bias, mult, shift, act)
            assert not _report(hk.pointwise(x, w, bias, mult, shift, act), want)


def test_pointwise_requantisation_ties_round_toward_plus_infinity():
    """acc * mult * 2^(shift - 31) exactly halfway between integers, both signs, on the 32-bit path (shift <= -2)
    and the exact one."""
    for shift in (-2, -5, -1, 0):
        t = 31 - shift
        mult = np.full(8, 1 << 30, np.int32)  # real multiplier 2^(shift - 1)
        acc = np.array([3, -3, 1, -1, 5, -5, 7, -7]) << (t - 31)  # acc * 2^(shift - 1) = k + 1/2
        x = np.zeros((1, 4), np.int64)
        want = _pointwise_ref(x, np.zeros((8, 4)), acc, mult, np.full(8, shift), (-128, 127))
        got = hk.pointwise(x, np.zeros((8, 4)), acc, mult, np.full(8, shift), (-128, 127))
        assert np.array_equal(got, want) and list(want[0, :2]) == [2, -1], (shift, got, want)


def test_conv2d_1x1_goes_through_pointwise_and_matches_reference():
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (6, 7, 24))
    w = rng.integers(-128, 128, (20, 1, 1, 24))
    bias = rng.integers(-5000, 5000, 20)
    mult, shift = _quant(rng, 20)
    got = hk.conv2d(x, w, bias, mult, shift, (0, 127))
    assert np.array_equal(got, hk.pointwise(x, w, bias, mult, shift, (0, 127)))
    assert not _report(got, fixed_ref.conv_s8(x, w, bias, mult, shift, (0, 127)))


@pytest.mark.parametrize("h,w,cin,cout,k,stride,act", [(6, 7, 64, 4, 3, 1, (-32768, 32767)),
                                                       (5, 6, 128, 3, 3, 1, (-32768, 32767)),
                                                       (4, 9, 16, 2, 3, 1, (-1000, 2000)),
                                                       (7, 6, 8, 5, 3, 2, (-128, 127)),
                                                       (1, 1, 12, 1, 3, 1, (-32768, 32767)),
                                                       (2, 3, 136, 2, 3, 1, (-32768, 32767)),
                                                       (5, 6, 32, 6, 1, 2, (-32768, 32767))])
def test_conv2d_group_paths_shift_minus_one_and_odd_channel_counts(h, w, cin, cout, k, stride, act):
    """The head-style convolutions: groups of 4 or pairs of pixels, a repeated last channel, shifts of -1."""
    rng = np.random.default_rng(h * w * cin + cout)
    x = rng.integers(-128, 128, (h, w, cin))
    wt = rng.integers(-128, 128, (cout, k, k, cin))
    bias = rng.integers(-200_000, 200_000, cout)
    mult, shift = _quant(rng, cout, -4, 0)
    want = fixed_ref.conv_s8(x, wt, bias, mult, shift, act, stride)
    got = hk.conv2d(x, wt, bias, mult, shift, act, stride)
    assert got.shape == want.shape and not _report(got, want), _report(got, want)


@pytest.mark.parametrize("h,w,c,stride", [(5, 7, 13, 1), (6, 5, 6, 2), (1, 1, 5, 1), (2, 2, 8, 2), (4, 9, 130, 2),
                                          (30, 40, 64, 2), (3, 2, 4, 1)])
def test_depthwise_shapes_clamps_and_shifts(h, w, c, stride):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    x = rng.integers(-128, 128, (h, w, c))
    wt = rng.integers(-128, 128, (3, 3, c))
    bias = rng.integers(-50_000, 50_000, c)
    for lo, hi in ((-14, -4), (-3, 3)):
        mult, shift = _quant(rng, c, lo, hi)
        for act in ((0, 127), (-128, 127), (-50, 60)):
            want = fixed_ref.depthwise_s8(x, wt, bias, mult, shift, act, stride)
            got = hk.depthwise3x3(x, wt, bias, mult, shift, act, stride)
            assert got.shape == want.shape and not _report(got, want), _report(got, want)


class _LayerWeights(C.Structure):
    _fields_ = [("w", C.c_void_p), ("bias", C.c_void_p), ("q", hk.QuantParams), ("act_min", C.c_int32),
                ("act_max", C.c_int32)]


@pytest.mark.parametrize("w,c,stride,missing,slots", [(7, 12, 1, (), (2, 0, 1)), (9, 8, 2, (0,), (1, 2, 0)),
                                                      (6, 13, 1, (2,), (0, 1, 2)), (5, 8, 1, (1,), (2, 1, 0)),
                                                      (4, 4, 1, (0, 1, 2), (0, 1, 2)), (1, 5, 1, (0,), (0, 1, 2)),
                                                      (2, 8, 2, (), (2, 0, 1)), (8, 6, 2, (0, 2), (1, 0, 2))])
def test_depthwise_row_kernel_with_missing_and_unordered_rows(w, c, stride, missing, slots):
    """rp_nn_depthwise3x3_row_s8 as the fused MBConv calls it: input rows in the slots of a ring (any order in
    memory), NULL for rows outside the tensor (the slot then holds values that must not be read)."""
    rng = np.random.default_rng(w * 100 + c)
    ring = rng.integers(-128, 128, (3, w, c)).astype(np.int8)
    wt = rng.integers(-128, 128, (3, 3, c)).astype(np.int8)
    bias = rng.integers(-9000, 9000, c).astype(np.int32)
    x3 = np.stack([np.zeros((w, c), np.int8) if k in missing else ring[slots[k]] for k in range(3)])
    fn = hk.library().rp_nn_depthwise3x3_row_s8
    fn.restype = None
    base = ring.ctypes.data
    rows = (C.c_void_p * 3)(*[None if k in missing else base + slots[k] * w * c for k in range(3)])
    for lo, hi in ((-12, -4), (-3, 3)):
        mult, shift = (a.astype(np.int32) for a in _quant(rng, c, lo, hi))
        for act in ((0, 127), (-128, 127), (-50, 60)):
            want = fixed_ref.depthwise_s8(x3, wt, bias, mult, shift, act, 1)[1, ::stride].astype(np.int8)
            out = np.zeros_like(want)
            dw = _LayerWeights(wt.ctypes.data, bias.ctypes.data,
                               hk.QuantParams(mult.ctypes.data_as(C.POINTER(C.c_int32)),
                                              shift.ctypes.data_as(C.POINTER(C.c_int32))), *act)
            fn(C.byref(dw), rows, w, c, stride, want.shape[0], out.ctypes.data_as(C.POINTER(C.c_int8)), None)
            assert not _report(out, want), _report(out, want)
