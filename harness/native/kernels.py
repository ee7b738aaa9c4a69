"""ctypes bindings of the host-built kernel library: NumPy arrays in, NumPy arrays out, same arguments as the
fixed-point reference functions in ``harness.model.fixed_ref`` so tests compare them one to one. Layer kinds name
them as their ``Kernel.host`` (harness/model/kinds/); a new kind may bind its own kernel with ``library``, ``Dims``,
``ptr``, ``arr`` and ``check``."""

from __future__ import annotations

import ctypes as C
from functools import cache

import numpy as np

from harness.build.host import build_host_library
from harness.errors import BuildError


class Dims(C.Structure):
    _fields_ = [("h", C.c_int32), ("w", C.c_int32), ("c", C.c_int32)]


class QuantParams(C.Structure):
    _fields_ = [("mult", C.POINTER(C.c_int32)), ("shift", C.POINTER(C.c_int32))]


class ConvParams(C.Structure):
    _fields_ = [("kernel", C.c_int32), ("stride", C.c_int32), ("in_offset", C.c_int32),
                ("act_min", C.c_int32), ("act_max", C.c_int32)]


class AddParams(C.Structure):
    _fields_ = [(n, C.c_int32) for n in ("ka", "kb", "mult", "shift", "act_min", "act_max")]


def ptr(a: np.ndarray, ctype):
    return a.ctypes.data_as(C.POINTER(ctype))


def arr(a, dtype) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a), dtype=dtype)


@cache
def library() -> C.CDLL:
    return C.CDLL(str(build_host_library().path))


def check(status: int, name: str) -> None:
    if status != 0:
        raise BuildError(f"{name} returned status {status} (RP_ERR_ARG: shapes or parameters outside its contract)")


def _out_size(n: int, k: int, stride: int) -> int:
    return (n + 2 * (k // 2) - k) // stride + 1


def conv2d(x, w, bias, mult, shift, act, stride=1, in_offset=0) -> np.ndarray:
    """``fixed_ref.conv_s8`` in C: int8 HWC in (uint8: the stem kernel), OHWI int8 weights; int8 out, or int16
    when act exceeds int8."""
    if np.asarray(x).dtype == np.uint8:
        return conv2d_u8(x, w, bias, mult, shift, act, stride, in_offset)
    x, w = arr(x, np.int8), arr(w, np.int8)
    bias, mult, shift = arr(bias, np.int32), arr(mult, np.int32), arr(shift, np.int32)
    o, k = w.shape[0], w.shape[1]
    wide = act[0] < -128 or act[1] > 127
    out = np.zeros((_out_size(x.shape[0], k, stride), _out_size(x.shape[1], k, stride), o),
                   np.int16 if wide else np.int8)
    fn = library().rp_conv2d_s8_s16 if wide else library().rp_conv2d_s8
    status = fn(C.byref(ConvParams(k, stride, in_offset, int(act[0]), int(act[1]))),
                C.byref(QuantParams(ptr(mult, C.c_int32), ptr(shift, C.c_int32))),
                C.byref(Dims(*x.shape)), ptr(x, C.c_int8), C.byref(Dims(k, k, x.shape[2])), ptr(w, C.c_int8),
                ptr(bias, C.c_int32), C.byref(Dims(*out.shape)), ptr(out, C.c_int16 if wide else C.c_int8))
    check(status, fn.__name__)
    return out


def depthwise3x3(x, w, bias, mult, shift, act, stride) -> np.ndarray:
    """``fixed_ref.depthwise_s8`` in C."""
    x, w = arr(x, np.int8), arr(w, np.int8)
    bias, mult, shift = arr(bias, np.int32), arr(mult, np.int32), arr(shift, np.int32)
    out = np.zeros((_out_size(x.shape[0], 3, stride), _out_size(x.shape[1], 3, stride), x.shape[2]), np.int8)
    status = library().rp_depthwise3x3_s8(
        C.byref(ConvParams(3, stride, 0, int(act[0]), int(act[1]))),
        C.byref(QuantParams(ptr(mult, C.c_int32), ptr(shift, C.c_int32))),
        C.byref(Dims(*x.shape)), ptr(x, C.c_int8), ptr(w, C.c_int8), ptr(bias, C.c_int32),
        C.byref(Dims(*out.shape)), ptr(out, C.c_int8))
    check(status, "rp_depthwise3x3_s8")
    return out


def pointwise(x, w, bias, mult, shift, act) -> np.ndarray:
    """``rp_nn_pointwise_s8``: ``fixed_ref.conv_s8`` with a 1x1 filter. x (..., c_in) int8 pixels; w (c_out, c_in) or
    OHWI (c_out, 1, 1, c_in); returns (..., c_out) int8."""
    x = arr(x, np.int8)
    w = arr(w, np.int8).reshape(np.shape(w)[0], -1)
    bias, mult, shift = arr(bias, np.int32), arr(mult, np.int32), arr(shift, np.int32)
    c_in, c_out = x.shape[-1], w.shape[0]
    if w.shape[1] != c_in or not (len(bias) == len(mult) == len(shift) == c_out):
        raise ValueError(f"pointwise: weights {w.shape} and {len(bias)} biases do not fit {c_in} input channels")
    out = np.zeros((*x.shape[:-1], c_out), np.int8)
    fn = library().rp_nn_pointwise_s8
    fn.restype = None
    fn(C.byref(QuantParams(ptr(mult, C.c_int32), ptr(shift, C.c_int32))), ptr(x, C.c_int8),
       C.c_int32(x.size // c_in), C.c_int32(c_in), ptr(w, C.c_int8), ptr(bias, C.c_int32), C.c_int32(c_out),
       C.c_int32(int(act[0])), C.c_int32(int(act[1])), ptr(out, C.c_int8))
    return out


def add(a, b, ka, kb, mult, shift, act=(-128, 127)) -> np.ndarray:
    """``fixed_ref.add_s8`` in C."""
    a, b = arr(a, np.int8), arr(b, np.int8)
    out = np.zeros_like(a)
    p = AddParams(int(ka), int(kb), int(mult), int(shift), int(act[0]), int(act[1]))
    check(library().rp_add_s8(C.byref(p), C.byref(Dims(*a.shape)), ptr(a, C.c_int8), ptr(b, C.c_int8),
                               ptr(out, C.c_int8)), "rp_add_s8")
    return out


class Context(C.Structure):
    _fields_ = [("buf", C.c_void_p), ("size", C.c_int32)]


class FastGRNNParams(C.Structure):
    _fields_ = [("n_in", C.c_int32), ("n_hidden", C.c_int32), ("w", C.POINTER(C.c_int16)), ("x_shift", C.c_int32),
                ("mult", C.c_int32), ("shift", C.c_int32), ("bg", C.POINTER(C.c_int32)),
                ("bh", C.POINTER(C.c_int32)), ("zeta", C.c_int32), ("nu", C.c_int32), ("hard", C.c_int32),
                ("gates", C.c_void_p)]  # compiled gates (RP_NN_GRNN16_GATES): none on the host


class RNNPoolParams(C.Structure):
    _fields_ = [("patch", C.c_int32), ("stride", C.c_int32), ("rnn1", C.POINTER(FastGRNNParams)),
                ("rnn2", C.POINTER(FastGRNNParams)), ("out_mult", C.c_int32), ("out_shift", C.c_int32)]


def _grnn(q, hard: bool, keep: list) -> FastGRNNParams:
    w, bg, bh = arr(q["w"], np.int16), arr(q["bg"], np.int32), arr(q["bh"], np.int32)
    keep += [w, bg, bh]  # the arrays must outlive the call
    h = w.shape[0]
    return FastGRNNParams(w.shape[1] - h, h, ptr(w, C.c_int16), int(q["x_shift"]), int(q["mult"]), int(q["shift"]),
                          ptr(bg, C.c_int32), ptr(bh, C.c_int32), int(q["zeta"]), int(q["nu"]), int(hard), None)


def rnnpool(x, q1, q2, patch, stride, hard, out_mult, out_shift, bands=()) -> np.ndarray:
    """``fixed_ref.rnnpool_q`` followed by ``ops.replicate_pad_br``, in C: the ``rnnpool`` layer. ``bands``: the
    patch rows each call ends at (rp_rnnpool_s8_rows, in order, the last the patch rows' count), else one call of
    rp_rnnpool_s8."""
    x = arr(x, np.int8)
    keep: list = []
    r1, r2 = _grnn(q1, hard, keep), _grnn(q2, hard, keep)
    ph, pw = (x.shape[0] - patch) // stride + 1, (x.shape[1] - patch) // stride + 1
    out = np.zeros((ph + 1, pw + 1, 4 * r2.n_hidden), np.int8)
    p = RNNPoolParams(patch, stride, C.pointer(r1), C.pointer(r2), int(out_mult), int(out_shift))
    size = library().rp_rnnpool_s8_get_buffer_size(C.byref(p), C.byref(Dims(*x.shape)))
    scratch = np.zeros(max(size, 2) // 2, np.int16)
    ctx = Context(scratch.ctypes.data, size)
    args = (C.byref(ctx), C.byref(p), C.byref(Dims(*x.shape)), ptr(x, C.c_int8), C.byref(Dims(*out.shape)),
            ptr(out, C.c_int8))
    if not bands:
        check(library().rp_rnnpool_s8(*args), "rp_rnnpool_s8")
    for first, end in zip((0, *bands), bands):
        check(library().rp_rnnpool_s8_rows(*args, first, end), "rp_rnnpool_s8_rows")
    return out


def rnnpool_buffer_size(q1, q2, patch, stride, in_shape) -> int:
    keep: list = []
    r1, r2 = _grnn(q1, False, keep), _grnn(q2, False, keep)
    p = RNNPoolParams(patch, stride, C.pointer(r1), C.pointer(r2), 0, 0)
    return library().rp_rnnpool_s8_get_buffer_size(C.byref(p), C.byref(Dims(*in_shape)))


def tanh_q14(v) -> np.ndarray:
    fn = library().rp_tanh_q14
    fn.restype, fn.argtypes = C.c_int32, [C.c_int64]
    return np.array([fn(int(x)) for x in np.ravel(v)], np.int64)


def sigmoid_q14(v) -> np.ndarray:
    fn = library().rp_sigmoid_q14
    fn.restype, fn.argtypes = C.c_int32, [C.c_int64]
    return np.array([fn(int(x)) for x in np.ravel(v)], np.int64)


def conv2d_u8(x, w, bias, mult, shift, act, stride, in_offset, rows=None, out=None) -> np.ndarray:
    """The stem: ``fixed_ref.conv_s8`` on a uint8 image with its input offset, in C; ``rows`` (first, end): only
    those output rows (rp_conv2d_u8_s8_rows), into ``out`` when given."""
    x, w = arr(x, np.uint8), arr(w, np.int8)
    bias, mult, shift = arr(bias, np.int32), arr(mult, np.int32), arr(shift, np.int32)
    o, k = w.shape[0], w.shape[1]
    if out is None:
        out = np.zeros((_out_size(x.shape[0], k, stride), _out_size(x.shape[1], k, stride), o), np.int8)
    args = (C.byref(ConvParams(k, stride, int(in_offset), int(act[0]), int(act[1]))),
            C.byref(QuantParams(ptr(mult, C.c_int32), ptr(shift, C.c_int32))),
            C.byref(Dims(*x.shape)), ptr(x, C.c_uint8), C.byref(Dims(k, k, x.shape[2])), ptr(w, C.c_int8),
            ptr(bias, C.c_int32), C.byref(Dims(*out.shape)), ptr(out, C.c_int8))
    if rows is None:
        check(library().rp_conv2d_u8_s8(*args), "rp_conv2d_u8_s8")
    else:
        check(library().rp_conv2d_u8_s8_rows(*args, *rows), "rp_conv2d_u8_s8_rows")
    return out


def l2norm(x, mult, shift) -> np.ndarray:
    """``fixed_ref.l2norm_s8`` in C."""
    x, mult, shift = arr(x, np.int8), arr(mult, np.int32), arr(shift, np.int32)
    out = np.zeros_like(x)
    check(library().rp_l2norm_s8(C.byref(QuantParams(ptr(mult, C.c_int32), ptr(shift, C.c_int32))),
                                  C.byref(Dims(*x.shape)), ptr(x, C.c_int8), ptr(out, C.c_int8)), "rp_l2norm_s8")
    return out
