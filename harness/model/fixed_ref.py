"""Integer-only reference of the quantised model: the specification the firmware must match bit for bit.

Every rule is written out in docs/numerics.md. Tensors are HWC; activations int8 (symmetric, zero point 0), the
RNN hidden state int16 Q14, head outputs int16. Convolutions accumulate exactly: int8 products summed in float64
BLAS are exact integers (every sum is far below 2^53), then converted to int64 for requantisation.

Each device-visible layer gets a *fingerprint*: ``zlib.crc32`` of its bytes in HWC order (int16 little-endian).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import SimpleNamespace
from collections.abc import Mapping

import numpy as np

from harness.model import layers, ops
from harness.model.layers import qkey
from harness.model.modelfile import Model
from harness.model.qmath import (ONE_Q14, requantize, rp_hard_sigmoid_q14, rp_hard_tanh_q14, rp_isqrt,
                                 rp_sigmoid_q14, rp_tanh_q14)

I64, F64 = np.int64, np.float64
DTYPES = {"int8": np.dtype("<i1"), "int16": np.dtype("<i2")}


@dataclass(frozen=True)
class FixedResult:
    layers: Mapping[str, np.ndarray]    # name → HWC integer tensor, in execution order (includes sub-layers)
    fingerprints: Mapping[str, int]     # device-visible layers only, in execution order
    raw: np.ndarray                     # EdgeML-order raw vector, dequantised to float32
    raw_int: np.ndarray                 # the same before dequantisation (int16 head values, after max-out)


def device_layers(cfg: dict) -> list[str]:
    """The layers the firmware materialises whole (MBConv sub-layers are fused away) and fingerprints: every
    reference layer of the network (the candidates are not one)."""
    return [x.name for x in layers.network(cfg) if layers.kind(x.kind).fixed is not None]


def fingerprint(t: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(t).tobytes())


def conv_s8(x, w, bias, mult, shift, act, stride=1, in_offset=0):
    """Dense conv, OHWI int8 weights, zero padding k//2 applied to (x + in_offset) → requantize → clamp."""
    o, k = w.shape[0], w.shape[1]
    xo = x.astype(F64) + in_offset
    cols = xo.reshape(-1, xo.shape[-1]) if k == 1 and stride == 1 else ops.im2col(xo, k, stride, k // 2)
    acc = (cols @ w.reshape(o, -1).T.astype(F64)).astype(I64) + bias
    ho, wo = ops.out_size(x.shape[0], k, stride, k // 2), ops.out_size(x.shape[1], k, stride, k // 2)
    return np.clip(requantize(acc, mult, shift), *act).reshape(ho, wo, o)


def depthwise_s8(x, w, bias, mult, shift, act, stride):
    """3×3 depthwise conv, weights (3, 3, C) int8, zero padding 1."""
    acc = None
    for (dy, dx), view in ops.depthwise_taps(x.astype(I64), stride):
        term = view * w[dy, dx].astype(I64)
        acc = term if acc is None else acc + term
    return np.clip(requantize(acc + bias, mult, shift), *act)


def add_s8(a, b, ka, kb, mult, shift, act=(-128, 127)):
    """Residual add: requantize(a·ka + b·kb) with Q14 input weights (docs/numerics.md)."""
    return np.clip(requantize(a.astype(I64) * ka + b.astype(I64) * kb, mult, shift), *act)


def l2norm_s8(x, mult, shift, act=(-128, 127)):
    """out_c = requantize(x_c · ⌊2^24 / ⌊√(Σx²·2^8)⌋⌋, mult_c, shift_c); an all-zero pixel stays zero."""
    xi = x.astype(I64)
    n = rp_isqrt((xi * xi).sum(axis=-1, keepdims=True) << 8)
    inv = np.where(n > 0, (np.int64(1) << 24) // np.maximum(n, 1), 0)
    return np.clip(requantize(xi * inv, mult, shift), *act)


def fastgrnn_q(xs, q: Mapping[str, np.ndarray], hard: bool) -> np.ndarray:
    """Integer FastGRNN over (B, T, in) sequences from h = 0; returns the final int16 Q14 state (B, h)."""
    w = q["w"].astype(F64)
    nin = xs.shape[-1]
    xw = (xs.astype(I64) << int(q["x_shift"])).astype(F64) @ w[:, :nin].T
    ut = w[:, nin:].T
    gate, cand = (rp_hard_sigmoid_q14, rp_hard_tanh_q14) if hard else (rp_sigmoid_q14, rp_tanh_q14)
    zeta, nu = int(q["zeta"]), int(q["nu"])
    h = np.zeros((xs.shape[0], w.shape[0]), I64)
    for t in range(xs.shape[1]):
        acc = (xw[:, t] + h.astype(F64) @ ut).astype(I64)
        pre = requantize(acc, q["mult"], q["shift"])
        z = gate(pre + q["bg"])
        c = cand(pre + q["bh"])
        coef = ((zeta * (ONE_Q14 - z)) >> 14) + nu
        h = np.clip((z * h + coef * c + (1 << 13)) >> 14, -32768, 32767)
    return h


def rnnpool_q(x, q1, q2, patch, stride, hard, out_mult, out_shift):
    """Integer RNNPool: int8 HWC → int8 (Ph, Pw, 4·h2), same traversal as the float one."""
    rows, cols, grid = ops.rnn1_sequences(x, patch, stride)
    pr, pc = ops.rnn1_summaries(fastgrnn_q(rows, q1, hard), fastgrnn_q(cols, q1, hard), grid)
    out = fastgrnn_q(ops.rnn2_sequences(pr, pc), q2, hard).reshape(grid[0], grid[1], -1)
    return np.clip(requantize(out, out_mult, out_shift), -128, 127)


def _p(a: Mapping[str, np.ndarray], name: str) -> dict:
    prefix = qkey(name, "")
    return {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}


@dataclass(frozen=True)
class FixedCtx:
    """What a kind's ``fixed`` op sees besides its inputs; ``k`` holds the primitives (NumPy or host C)."""

    cfg: dict
    arrays: Mapping[str, np.ndarray]
    quant: dict
    hard: bool
    k: SimpleNamespace

    def p(self, name: str) -> dict:
        """Layer ``name``'s fixed-point parameters, without their ``q/name.`` prefix."""
        return _p(self.arrays, name)

    def act(self, name: str) -> list[int]:
        return self.quant["act"][name]

    def conv(self, name: str, x, stride: int = 1, in_offset: int = 0):
        p = self.p(name)
        return self.k.conv(x, p["w"], p["bias"], p["mult"], p["shift"], self.act(name), stride, in_offset)


def schedule(model: Model, image_u8: np.ndarray, kernels: str | SimpleNamespace = "reference",
             hard: bool | None = None) -> dict[str, np.ndarray]:
    """Every layer of the quantised model, in execution order (docs/numerics.md §3), each typed as the device
    stores it. ``kernels``: "reference" (NumPy), "host" (the host-built C kernels) or a namespace of primitives
    (``layers.kernels``)."""
    cfg, qc = model.config, model.require_quant()
    k = layers.kernels(kernels) if isinstance(kernels, str) else kernels
    ctx = FixedCtx(cfg, model.arrays, qc, cfg["nonlinearity"] == "hard" if hard is None else hard, k)
    values: dict[str, np.ndarray] = {"input": image_u8}
    L: dict[str, np.ndarray] = {}
    for layer in layers.network(cfg):
        op = layers.kind(layer.kind).fixed
        if op is not None:
            out = op(layer, [values[i] for i in layer.inputs], ctx)
            L.update(out)
            values.update(out)
    return {name: v.astype(DTYPES[qc["dtypes"][name]]) for name, v in L.items()}


def run_fixed(model: Model, image_u8: np.ndarray, hard: bool | None = None) -> FixedResult:
    """Run the fixed-point model on one 8-bit grey image of the model's input size."""
    cfg, qc = model.config, model.require_quant()
    L = schedule(model, image_u8, "reference", hard)
    heads = range(len(cfg["heads"]))
    confs = [ops.maxout(L[layers.head_name(j, "conf")].astype(I64)) for j in heads]
    locs = [L[layers.head_name(j, "loc")].astype(I64) for j in heads]
    raw_int = ops.raw_vector(confs, locs)
    scales = np.concatenate([np.full(c.size, qc["scales"][layers.head_name(j, "conf")], np.float64)
                             for j, c in enumerate(confs)]
                            + [np.full(lc.size, qc["scales"][layers.head_name(j, "loc")], np.float64)
                               for j, lc in enumerate(locs)])
    fps = {n: fingerprint(L[n]) for n in device_layers(cfg)}
    return FixedResult(L, fps, (raw_int * scales).astype(np.float32), raw_int.astype(np.int16))
