"""The fused MBConv kernel (host build) against the unfused NumPy reference layers, over odd shapes, both
strides, with and without the residual add, extreme values and negative multipliers."""

import ctypes as C

import numpy as np
import pytest

from harness.native.kernels import AddParams, Context, Dims, QuantParams, library
from harness.model.fixed_ref import add_s8, conv_s8, depthwise_s8


class LayerWeights(C.Structure):
    _fields_ = [("w", C.c_void_p), ("bias", C.c_void_p), ("q", QuantParams), ("act_min", C.c_int32),
                ("act_max", C.c_int32)]


class MBConvParams(C.Structure):
    _fields_ = [("c_hidden", C.c_int32), ("stride", C.c_int32), ("expand", LayerWeights), ("dw", LayerWeights),
                ("project", LayerWeights), ("add", C.POINTER(AddParams))]


def _layer(rng, o, k_in, act, keep):
    w = rng.integers(-127, 128, (o, k_in), dtype=np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    mult = (rng.integers(2 ** 30, 2 ** 31 - 1, o) * rng.choice([-1, 1], o)).astype(np.int32)
    shift = rng.integers(-12, -4, o).astype(np.int32)
    keep += [w, bias, mult, shift]
    q = QuantParams(mult.ctypes.data_as(C.POINTER(C.c_int32)), shift.ctypes.data_as(C.POINTER(C.c_int32)))
    lw = LayerWeights(w.ctypes.data, bias.ctypes.data, q, *act)
    return lw, (w, bias, mult, shift)


def run_case(seed, h, w, c_in, hid, c_out, stride, residual, in_place=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (h, w, c_in), dtype=np.int8)
    x[0, 0] = 127
    x[-1, -1] = -128
    keep: list = []
    e, (ew, eb, em, es) = _layer(rng, hid, c_in, (0, 127), keep)
    d, (dw, db, dm, ds) = _layer(rng, hid, 9, (0, 127), keep)
    dw3 = np.ascontiguousarray(dw.T.reshape(3, 3, hid))     # [3][3][hid]
    d.w = dw3.ctypes.data
    keep.append(dw3)
    p, (pw, pb, pm, ps) = _layer(rng, c_out, hid, (-128, 127), keep)
    add = AddParams(16384, 11000, 1 << 30, -13, -128, 127) if residual else None
    params = MBConvParams(hid, stride, e, d, p, C.pointer(add) if add else None)
    lib = library()
    size = lib.rp_mbconv_s8_get_buffer_size(C.byref(params), C.byref(Dims(h, w, c_in)))
    scratch = np.zeros(size, np.int8)
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    x_orig = x.copy()
    out = x.reshape(-1)[:ho * wo * c_out].reshape(ho, wo, c_out) if in_place else np.zeros((ho, wo, c_out), np.int8)
    status = lib.rp_mbconv_s8(C.byref(Context(scratch.ctypes.data, size)), C.byref(params),
                              C.byref(Dims(h, w, c_in)), C.c_void_p(x.ctypes.data), C.byref(Dims(ho, wo, c_out)),
                              C.c_void_p(out.ctypes.data))
    assert status == 0
    x = x_orig
    y = conv_s8(x, ew.reshape(hid, 1, 1, c_in), eb, em, es, (0, 127))
    y = depthwise_s8(y, dw3, db, dm, ds, (0, 127), stride)
    y = conv_s8(y, pw.reshape(c_out, 1, 1, hid), pb, pm, ps, (-128, 127))
    if residual:
        y = add_s8(x, y, add.ka, add.kb, add.mult, add.shift)
    return out, y.astype(np.int8)


@pytest.mark.parametrize("case", [
    (1, 5, 7, 3, 5, 3, 1, True), (2, 6, 9, 4, 7, 6, 2, False), (3, 1, 1, 2, 3, 2, 1, True),
    (4, 2, 3, 8, 13, 8, 2, False), (5, 9, 4, 16, 32, 16, 1, True), (6, 7, 11, 6, 9, 5, 1, False),
])
def test_fused_mbconv_equals_unfused_reference(case):
    got, want = run_case(*case)
    assert np.array_equal(got, want), f"first difference at {np.argwhere(got != want)[0]}"


@pytest.mark.parametrize("case", [
    (7, 6, 8, 8, 12, 8, 1, True), (8, 7, 5, 16, 24, 8, 1, False), (9, 9, 10, 8, 16, 16, 2, False),
    (10, 5, 9, 6, 10, 12, 2, False),
])
def test_fused_mbconv_in_place(case):
    """Output written over the input (Wo·C_out ≤ stride·W·C_in), as the planner arranges it."""
    got, want = run_case(*case, in_place=True)
    assert np.array_equal(got, want), f"first difference at {np.argwhere(got != want)[0]}"


def test_contract_violations_are_rejected():
    lib = library()
    rng = np.random.default_rng(0)
    keep: list = []
    e, _ = _layer(rng, 4, 4, (0, 127), keep)
    params = MBConvParams(4, 3, e, e, e, None)  # stride 3 is outside the contract
    scratch = np.zeros(4096, np.int8)
    x, out = np.zeros((4, 4, 4), np.int8), np.zeros((2, 2, 4), np.int8)
    assert lib.rp_mbconv_s8(C.byref(Context(scratch.ctypes.data, 4096)), C.byref(params), C.byref(Dims(4, 4, 4)),
                            C.c_void_p(x.ctypes.data), C.byref(Dims(2, 2, 4)), C.c_void_p(out.ctypes.data)) == 1


@pytest.mark.parametrize("w, c_in, hid, c_out, stride, residual", [
    (40, 64, 128, 32, 1, False), (40, 32, 64, 32, 1, True), (40, 32, 64, 64, 2, False), (20, 64, 128, 64, 1, True),
    (7, 13, 32, 8, 1, False), (6, 32, 20, 6, 1, False), (5, 160, 32, 4, 2, False), (9, 8, 6, 5, 1, False)])
def test_the_code_generators_scratch_sizes_are_the_kernels(w, c_in, hid, c_out, stride, residual):
    """harness/model/kinds/mbconv.py sizes the arena's scratch for rp_mbconv_s8, and its spare for the records
    (mbconv_records): both exactly what the C asks for, or the records would silently be skipped."""
    from harness.model.kinds.mbconv import mbconv_records, mbconv_scratch

    lib = library()
    add = AddParams(16384, 11000, 1 << 30, -13, -128, 127)
    params = MBConvParams(hid, stride, LayerWeights(), LayerWeights(), LayerWeights(),
                          C.pointer(add) if residual else None)
    dims, wo = Dims(4, w, c_in), (w - 1) // stride + 1
    base = lib.rp_mbconv_s8_get_buffer_size(C.byref(params), C.byref(dims))
    fast = lib.rp_mbconv_s8_get_fast_buffer_size(C.byref(params), C.byref(dims), c_out)
    assert base == mbconv_scratch(w, c_in, hid, stride) + (wo * c_in if residual else 0)
    assert fast - base == mbconv_records(c_in, hid, c_out, stride)


@pytest.mark.parametrize("w, c_in", [(40, 32), (20, 64), (9, 128), (11, 16), (5, 48), (3, 4)])
def test_the_heads_ring_size_is_the_kernels(w, c_in):
    """harness/model/kinds/conv_s16.py's spare for rp_conv2d_s8_s16_fast (conv_ring_bytes) is the C's size."""
    from harness.model.kinds.conv_s16 import conv_ring_bytes

    assert library().rp_conv2d_s8_s16_get_fast_buffer_size(C.byref(Dims(5, w, c_in))) == conv_ring_bytes(w, c_in)
