"""Float model + calibration images → fixed-point model (deterministic), and its per-layer error report.

Scales are symmetric per tensor for activations (max |x| over the calibration images / 127, int16 heads / 32767)
and per output channel for weights (max |w| / 127). The RNN keeps a Q14 state; its fused [W U] matrix is int16
with one accumulator scale chosen so that no int32 sum can overflow for any input or state
(docs/numerics.md §9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import ModelError
from harness.model import fixed_ref, float_ref
from harness.model.modelfile import Model
from harness.model.qmath import ONE_Q14, quantize_multiplier, quantize_multipliers

SCHEME = "harness-q8/1"
RELU6 = {"stem"}  # plus every mb*.expand / mb*.dw


def _is_relu6(name: str) -> bool:
    return name in RELU6 or name.endswith(".expand") or name.endswith(".dw")


def calibrate(model: Model, images: list[np.ndarray]) -> dict[str, float]:
    """max |x| of every float layer over ``images``."""
    if not images:
        raise ModelError("quantisation needs at least one calibration image")
    peaks: dict[str, float] = {}
    for img in images:
        for name, t in float_ref.run_float(model, img).layers.items():
            peaks[name] = max(peaks.get(name, 0.0), float(np.abs(t).max()))
    return peaks


def _conv_params(w_oihw, b, s_in, s_out, bias_extra=None, x_code_max=128):
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


def _rnn_params(a, name: str, s_x: float, x_code_max: int, x_shift: int) -> dict:
    """Fused [W U] int16 with one accumulator scale s_acc; pre-activation requantised to Q14.

    Inputs enter as int16 ``x << x_shift`` so that their codes are as wide as the Q14 state's and W and U get
    comparable precision from the shared scale. s_acc is then widened until the integer worst case,
    Σ|Wq|·|x code| + Σ|Uq|·32768 (any int16 state), fits int32: no assumption about the state's range.
    """
    W, U = (np.asarray(a[f"{name}.{k}"], np.float64) for k in ("W", "U"))
    s_h, s_xw = 2.0 ** -14, s_x / 2.0 ** x_shift
    x_max = x_code_max << x_shift
    s_acc = max(np.abs(W).max() * s_xw / 32767, np.abs(U).max() * s_h / 32767, 1e-30)
    while True:
        w = np.clip(np.round(np.concatenate([W * s_xw, U * s_h], axis=1) / s_acc), -32767, 32767).astype(np.int64)
        nin = W.shape[1]
        worst = int((np.abs(w[:, :nin]).sum(axis=1) * x_max + np.abs(w[:, nin:]).sum(axis=1) * 32768).max())
        if worst < 2**31:
            break
        s_acc *= worst / 2**31 * 1.001
    mult, shift = quantize_multiplier(s_acc * ONE_Q14)
    sig = lambda v: 1.0 / (1.0 + np.exp(-float(np.asarray(v).reshape(()))))  # noqa: E731
    return {"w": w.astype(np.int16), "x_shift": np.int32(x_shift),
            "bg": np.round(np.asarray(a[f"{name}.bg"], np.float64) * ONE_Q14).astype(np.int32),
            "bh": np.round(np.asarray(a[f"{name}.bh"], np.float64) * ONE_Q14).astype(np.int32),
            "mult": np.int32(mult), "shift": np.int32(shift),
            "zeta": np.int32(round(sig(a[f"{name}.zeta"]) * ONE_Q14)),
            "nu": np.int32(round(sig(a[f"{name}.nu"]) * ONE_Q14))}


def quantize(model: Model, images: list[np.ndarray], method: str = "max") -> Model:
    """Return ``model`` with its fixed-point parameters (``q/…`` arrays and the ``quant`` config section)."""
    cfg, a = model.config, model.float_arrays()
    peaks = calibrate(model.replace(arrays=a), images)
    scales, act, dtypes = {}, {}, {}
    for name, peak in peaks.items():
        wide = name.startswith("head")
        top = 32767 if wide else 127
        if _is_relu6(name):
            peak = min(peak, 6.0)
        scales[name] = max(peak, 1e-6) / top
        dtypes[name] = "int16" if wide else "int8"
        act[name] = [0, min(127, int(round(6.0 / scales[name])))] if _is_relu6(name) else [-top - 1, top]
    norm = cfg["normalization"]
    mean, s_in = float(norm["mean"]), float(norm["scale"])
    offset = -int(round(mean))
    q: dict[str, np.ndarray] = {}

    def put(name, params):
        q.update({f"q/{name}.{k}": np.asarray(v) for k, v in params.items()})

    # x = (Y − mean)·scale = (Y + offset)·scale − δ·scale: the residual δ is folded into the bias.
    delta = mean + offset
    put("stem", _conv_params(a["stem.w"], a["stem.b"], s_in, scales["stem"],
                             bias_extra=-delta * s_in * np.asarray(a["stem.w"], np.float64).sum(axis=(1, 2, 3)),
                             x_code_max=max(-offset, 255 + offset)))
    put("rnn1", _rnn_params(a, "rnn1", scales["stem"], 127, x_shift=8))
    put("rnn2", _rnn_params(a, "rnn2", 2.0 ** -14, 32768, x_shift=0))
    m, s = quantize_multiplier(2.0 ** -14 / scales["rnnpool"])
    put("rnnpool", {"out_mult": np.int32(m), "out_shift": np.int32(s)})
    prev = "rnnpool"
    for i, blk in enumerate(cfg["blocks"]):
        put(f"mb{i}.expand", _conv_params(a[f"mb{i}.expand.w"], a[f"mb{i}.expand.b"], scales[prev],
                                          scales[f"mb{i}.expand"]))
        dw = _conv_params(a[f"mb{i}.dw.w"], a[f"mb{i}.dw.b"], scales[f"mb{i}.expand"], scales[f"mb{i}.dw"])
        dw["w"] = dw["w"][:, :, :, 0].transpose(1, 2, 0)  # (C, 3, 3, 1) → (3, 3, C)
        put(f"mb{i}.dw", dw)
        put(f"mb{i}.project", _conv_params(a[f"mb{i}.project.w"], a[f"mb{i}.project.b"], scales[f"mb{i}.dw"],
                                           scales[f"mb{i}.project"]))
        if blk["residual"]:
            sa, sb = scales[prev], scales[f"mb{i}.project"]
            top = max(sa, sb)
            m, s = quantize_multiplier(top / (ONE_Q14 * scales[f"mb{i}"]))
            put(f"mb{i}.add", {"ka": np.int32(round(ONE_Q14 * sa / top)), "kb": np.int32(round(ONE_Q14 * sb / top)),
                               "mult": np.int32(m), "shift": np.int32(s)})
        else:
            scales[f"mb{i}"] = scales[f"mb{i}.project"]
            act[f"mb{i}"] = act[f"mb{i}.project"]
        prev = f"mb{i}"
    for j, hd in enumerate(cfg["heads"]):
        src = f"mb{hd['block']}"
        if hd["l2norm"] is not None:
            mult, shift = quantize_multipliers(np.asarray(a[f"l2norm{j}.w"], np.float64) * 2.0 ** -20
                                               / scales[f"l2norm{j}"])
            put(f"l2norm{j}", {"mult": mult, "shift": shift})
            src = f"l2norm{j}"
        for part in ("conf", "loc"):
            put(f"head{j}.{part}", _conv_params(a[f"head{j}.{part}.w"], a[f"head{j}.{part}.b"], scales[src],
                                                scales[f"head{j}.{part}"]))
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
