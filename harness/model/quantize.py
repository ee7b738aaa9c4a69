"""Float model + calibration images → fixed-point model (deterministic), and its per-layer error report.

Scales are symmetric per tensor for activations (max |x| over the calibration images / 127, int16 heads / 32767)
and per output channel for weights (max |w| / 127). The RNN keeps a Q14 state; its fused [W U] matrix is int16
with one accumulator scale chosen so that no int32 sum can overflow for any input or state
(docs/numerics.md §9). Each layer kind's ``quantize`` (harness/model/kinds/) computes its own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.errors import ModelError
from harness.model import fixed_ref, float_ref
from harness.model.layers import kind, network, qkey
from harness.model.modelfile import Model
from harness.model.qmath import quantize_multipliers

SCHEME = "harness-q8/1"


def calibrate(model: Model, images: list[np.ndarray]) -> dict[str, float]:
    """max |x| of every float layer over ``images``."""
    if not images:
        raise ModelError("quantisation needs at least one calibration image")
    peaks: dict[str, float] = {}
    for img in images:
        for name, t in float_ref.run_float(model, img).layers.items():
            peaks[name] = max(peaks.get(name, 0.0), float(np.abs(t).max()))
    return peaks


def conv_params(w_oihw, b, s_in, s_out, bias_extra=None, x_code_max=128):
    """Per-output-channel int8 weights (OHWI), int32 bias, requantisation multipliers."""
    w = np.asarray(w_oihw, np.float64)
    s_w = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-12) / 127.0
    wq = np.clip(np.round(w / s_w[:, None, None, None]), -127, 127).astype(np.int8)
    bf = np.asarray(b, np.float64) + (0 if bias_extra is None else bias_extra)
    bias = np.round(bf / (s_in * s_w)).astype(np.int64)
    # int32 accumulators: |bias| + Σ|w|·|x| must fit for any input codes (|x| ≤ x_code_max).
    worst = np.abs(bias) + np.abs(wq.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1) * x_code_max
    if worst.max(initial=0) >= 2**31:
        raise ModelError("a quantised bias overflows int32; the calibration scales are degenerate")
    mult, shift = quantize_multipliers(s_in * s_w / s_out)
    return {"w": wq.transpose(0, 2, 3, 1), "bias": bias.astype(np.int32), "mult": mult, "shift": shift}


@dataclass(frozen=True)
class QuantCtx:
    """What a kind's ``quantize`` sees: the float arrays, the activation scales and clamps (it may set its own
    output's), and ``put`` for its integer parameters."""

    cfg: dict
    arrays: dict[str, np.ndarray]
    scales: dict[str, float]
    act: dict[str, list[int]]
    offset: int                                   # the integer input offset, −round(mean)
    put: Callable[[str, dict], None]


def quantize(model: Model, images: list[np.ndarray], method: str = "max") -> Model:
    """Return ``model`` with its fixed-point parameters (``q/…`` arrays and the ``quant`` config section)."""
    cfg, a = model.config, model.float_arrays()
    peaks = calibrate(model.replace(arrays=a), images)
    scales, act, dtypes = {}, {}, {}
    net = network(cfg)
    for layer in net:
        k = kind(layer.kind)
        if k.float is None:
            continue
        for part, name in zip((*k.parts, ""), layer.outputs):
            wide = k.dtype == "int16"
            top = 32767 if wide else 127
            relu6, peak = part in k.relu6, peaks[name]
            if relu6:
                peak = min(peak, 6.0)
            scales[name] = max(peak, 1e-6) / top
            dtypes[name] = k.dtype
            act[name] = [0, min(127, int(round(6.0 / scales[name])))] if relu6 else [-top - 1, top]
    offset = -int(round(float(cfg["normalization"]["mean"])))
    q: dict[str, np.ndarray] = {}

    def put(name, params):
        q.update({qkey(name, k): np.asarray(v) for k, v in params.items()})

    ctx = QuantCtx(cfg, a, scales, act, offset, put)
    for layer in net:
        if kind(layer.kind).quantize is not None:
            kind(layer.kind).quantize(layer, ctx)
    quant = {"scheme": SCHEME, "input_offset": offset, "scales": scales, "act": act, "dtypes": dtypes,
             "calibration": {"images": len(images), "method": method}}
    return Model.create({**cfg, "quant": quant}, {**a, **q})


@dataclass(frozen=True)
class LayerError:
    name: str
    cosine: float
    rel_l2: float


def layer_errors(model: Model, images: list[np.ndarray]) -> list[LayerError]:
    """Cosine similarity and relative L2 error of every dequantised fixed layer against the float layer."""
    qc = model.require_quant()
    sums: dict[str, np.ndarray] = {}
    for img in images:
        fl = float_ref.run_float(model, img).layers
        fx = fixed_ref.run_fixed(model, img).layers
        for name, t in fx.items():
            f = fl[name].astype(np.float64).ravel()
            d = t.astype(np.float64).ravel() * qc["scales"][name]
            acc = sums.setdefault(name, np.zeros(4))
            acc += [f @ d, f @ f, d @ d, (f - d) @ (f - d)]
    out = []
    for name, (fd, ff, dd, ee) in sums.items():
        cos = fd / np.sqrt(ff * dd) if ff > 0 and dd > 0 else float(ff == dd)
        out.append(LayerError(name, float(cos), float(np.sqrt(ee / ff)) if ff > 0 else float(ee > 0)))
    return out


@dataclass(frozen=True)
class Agreement:
    """Fixed-point against float on the raw head outputs and on the detections (score ≥ threshold)."""

    cosine: float
    rel_l2: float
    detection_f1: float  # fixed detections matched to float ones, IoU ≥ 0.5, greedy by score
    float_detections: int
    fixed_detections: int


def agreement(model: Model, images: list[np.ndarray], threshold: float | None = None) -> Agreement:
    from harness.model.detect import box_iou, detect

    fd = dd = ff = ee = 0.0
    matched = n_float = n_fixed = 0
    for img in images:
        f = float_ref.run_float(model, img).raw.astype(np.float64)
        q = fixed_ref.run_fixed(model, img).raw.astype(np.float64)
        fd, ff, dd, ee = fd + f @ q, ff + f @ f, dd + q @ q, ee + (f - q) @ (f - q)
        df, dq = detect(model.config, f, threshold), detect(model.config, q, threshold)
        free = list(df)
        for d in dq:
            best = max(free, key=lambda g: box_iou(d, g), default=None)
            if best is not None and box_iou(d, best) >= 0.5:
                free.remove(best)
                matched += 1
        n_float, n_fixed = n_float + len(df), n_fixed + len(dq)
    f1 = 2 * matched / (n_float + n_fixed) if n_float + n_fixed else 1.0
    return Agreement(float(fd / np.sqrt(ff * dd)), float(np.sqrt(ee / ff)), f1, n_float, n_fixed)
