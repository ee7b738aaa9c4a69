"""Float32 reference of the RNNPool face detectors, EdgeML-exact (notes: docs/notes/edgeml-rnnpool.md §1–2).

All tensors are HWC float32. ``run_float`` returns every layer's output plus EdgeML's raw output vector.
The RNN nonlinearities are the exact sigmoid/tanh by default; ``hard=True`` (or ``"nonlinearity": "hard"`` in
the model description) switches to EdgeML's quantSigm/quantTanh, clip((x+1)/2, 0, 1) and clip(x, -1, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

import numpy as np

from harness.model import ops
from harness.model.layers import head_name, kind, network, sub
from harness.model.modelfile import Model

F32 = np.float32
CHUNK = 2048  # sequences per FastGRNN batch


@dataclass(frozen=True)
class FloatResult:
    layers: Mapping[str, np.ndarray]  # name → HWC float32, in execution order
    raw: np.ndarray                   # EdgeML raw vector (conf of all heads, then loc), float32


def normalize(cfg: dict, image_u8: np.ndarray) -> np.ndarray:
    """8-bit grey (H, W) → model input (H, W, 1) float32: x = (Y − mean) · scale."""
    n = cfg["normalization"]
    return ((image_u8.astype(F32) - F32(n["mean"])) * F32(n["scale"]))[..., None]


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1) -> np.ndarray:
    """Dense conv, 'same'-style padding (k//2), weights OIHW as stored."""
    o, i, k, _ = w.shape
    ho, wo = ops.out_size(x.shape[0], k, stride, k // 2), ops.out_size(x.shape[1], k, stride, k // 2)
    wmat = w.transpose(2, 3, 1, 0).reshape(k * k * i, o)
    cols = x.reshape(-1, i) if k == 1 and stride == 1 else ops.im2col(x, k, stride, k // 2)
    return (cols @ wmat + b).reshape(ho, wo, o).astype(F32, copy=False)


def depthwise3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    acc = None
    for (dy, dx), view in ops.depthwise_taps(x, stride):
        term = view * w[:, 0, dy, dx]
        acc = term if acc is None else acc + term
    return acc + b


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, F32(0), F32(6))


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x))


def rnn_params(arrays: Mapping[str, np.ndarray], name: str) -> dict:
    p = {k: np.asarray(arrays[sub(name, k)], F32) for k in ("W", "U", "bg", "bh")}
    p["sig_zeta"] = sigmoid(np.asarray(arrays[sub(name, "zeta")], F32).reshape(()))
    p["sig_nu"] = sigmoid(np.asarray(arrays[sub(name, "nu")], F32).reshape(()))
    return p


def fastgrnn(xs: np.ndarray, p: Mapping[str, np.ndarray], hard: bool) -> np.ndarray:
    """Run FastGRNN over (B, T, in) sequences from h0 = 0; return the final hidden state (B, h).

    pre = W·x + U·h; z = σ(pre + b_g); h~ = tanh(pre + b_h); h = z⊙h + (σ(ζ)(1 − z) + σ(ν))⊙h~.
    Both gates come from one stacked pre-activation [pre + b_g, 2(pre + b_h)] and one exp, using
    tanh(a) = 2σ(2a) − 1 (absolute error ~1e-7 in float32).
    """
    n = p["W"].shape[0]
    k = F32(1) if hard else F32(2)
    w2 = np.concatenate([p["W"], k * p["W"]]).T
    u2 = np.concatenate([p["U"], k * p["U"]]).T
    b2 = np.concatenate([p["bg"], k * p["bh"]])
    sz, sn = p["sig_zeta"], p["sig_nu"]
    out = np.empty((xs.shape[0], n), F32)
    for lo in range(0, xs.shape[0], CHUNK):  # chunks keep each step's working set in cache
        xw = (xs[lo:lo + CHUNK].reshape(-1, xs.shape[2]) @ w2 + b2).reshape(-1, xs.shape[1], 2 * n)
        xw = np.ascontiguousarray(xw.transpose(1, 0, 2))  # every step's input term at once
        h = np.zeros((xw.shape[1], n), F32)
        for t in range(xs.shape[1]):
            v = xw[t] + h @ u2 if t else xw[t]
            if hard:
                z = np.clip((v[:, :n] + F32(1)) * F32(0.5), F32(0), F32(1))
                c = np.clip(v[:, n:], F32(-1), F32(1))
            else:
                with np.errstate(over="ignore"):  # exp(-v) → inf gives σ = 0, as intended
                    np.exp(np.negative(v, out=v), out=v)
                np.reciprocal(np.add(v, F32(1), out=v), out=v)
                z, c = v[:, :n], v[:, n:] * F32(2) - F32(1)
            h = z * h + ((sz + sn) - sz * z) * c
        out[lo:lo + CHUNK] = h
    return out


def rnnpool(x: np.ndarray, rnn1: Mapping, rnn2: Mapping, patch: int, stride: int, hard: bool) -> np.ndarray:
    """RNNPool over every patch of HWC ``x`` → (Ph, Pw, 4·h2) = [rows fwd, rows bwd, cols fwd, cols bwd]."""
    rows, cols, grid = ops.rnn1_sequences(x, patch, stride)
    pr, pc = ops.rnn1_summaries(fastgrnn(rows, rnn1, hard), fastgrnn(cols, rnn1, hard), grid)
    out = fastgrnn(ops.rnn2_sequences(pr, pc), rnn2, hard)  # (N·4, h2)
    return out.reshape(grid[0], grid[1], -1)


def l2norm(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    norm = np.sqrt((x * x).sum(axis=-1, keepdims=True)) + F32(1e-10)
    return w * (x / norm)


@dataclass(frozen=True)
class FloatCtx:
    """What a kind's ``float`` op sees besides its inputs."""

    cfg: dict
    arrays: Mapping[str, np.ndarray]
    hard: bool


def run_float(model: Model, image_u8: np.ndarray, hard: bool | None = None) -> FloatResult:
    """Run the float model on one 8-bit grey image of the model's input size: every layer of
    ``layers.network`` through its kind's ``float`` op."""
    cfg = model.config
    ctx = FloatCtx(cfg, model.arrays, cfg["nonlinearity"] == "hard" if hard is None else hard)
    values: dict[str, np.ndarray] = {"input": image_u8}
    layers: dict[str, np.ndarray] = {}
    for layer in network(cfg):
        op = kind(layer.kind).float
        if op is not None:
            out = op(layer, [values[i] for i in layer.inputs], ctx)
            layers.update(out)
            values.update(out)
    n = range(len(cfg["heads"]))
    confs = [ops.maxout(layers[head_name(j, "conf")]) for j in n]
    return FloatResult(layers, ops.raw_vector(confs, [layers[head_name(j, "loc")] for j in n]).astype(F32))
