"""On-device post-processing and its host half (numerics §7).

The device keeps only the priors whose integer face-minus-background difference reaches a per-head threshold set
a little below the score threshold, and sends those priors' raw head values (``rp_candidate``). The host finishes
in floating point (softmax, decode, NMS) exactly as ``detect`` does: the integer test keeps a superset of the
priors that can score ≥ the threshold, and ``detect_subset`` over such a superset equals ``detect`` on the whole
raw vector. So device detections equal the fixed-point reference's, bit for bit, without floats on the device.
"""

from __future__ import annotations

import math

import numpy as np

from harness.errors import UsageError
from harness.model import ops
from harness.model.archs import shapes
from harness.model.detect import Detection, detect_subset
from harness.model.layers import head_name

CANDIDATE = np.dtype([("prior", "<u2"), ("conf_bg", "<i2"), ("conf_face", "<i2"), ("loc", "<i2", (4,))])


def device_threshold(cfg: dict, threshold: float | None = None) -> float:
    det = cfg["detection"]
    return max(det["score_thresh"] if threshold is None else threshold, det["conf_thresh"])


def head_thresholds(cfg: dict, scales: dict, threshold: float | None = None) -> list[int]:
    """Per head: keep a prior when face − bg ≥ t (integer conf steps). σ(s·d) ≥ T ⇔ d ≥ logit(T)/s; one step of
    margin covers the float32 rounding of the dequantised values (relative 2^−24, i.e. < 0.01 step)."""
    t = device_threshold(cfg, threshold)
    logit = math.log(t / (1.0 - t)) if t < 1.0 else math.inf
    return [max(-65536, math.floor(logit / scales[head_name(j, "conf")]) - 1) for j in range(len(cfg["heads"]))]


def candidates(cfg: dict, layers: dict, thresholds: list[int], capacity: int) -> tuple[np.ndarray, int]:
    """What ``rp_candidates_s16`` produces from the head layers: (records[:capacity], total count)."""
    rows, base = [], 0
    for j, t in enumerate(thresholds):
        conf = ops.maxout(layers[head_name(j, "conf")].astype(np.int32)).reshape(-1, 2)
        loc = layers[head_name(j, "loc")].reshape(-1, 4)
        for i in np.flatnonzero(conf[:, 1] - conf[:, 0] >= t):
            rows.append((base + i, conf[i, 0], conf[i, 1], tuple(loc[i])))
        base += len(conf)
    recs = np.array(rows[:capacity], dtype=CANDIDATE)
    return recs, len(rows)


def detect_candidates(cfg: dict, scales: dict, records: np.ndarray, threshold: float | None = None,
                      device_t: float | None = None) -> list[Detection]:
    """Detections from the device's candidate records, dequantised as ``run_fixed`` dequantises the raw vector."""
    if threshold is not None and device_t is not None and threshold < device_t:
        raise UsageError(f"threshold {threshold} is below the {device_t} the device selected candidates for; "
                         "rebuild the firmware with the lower threshold")
    counts = [s[0] * s[1] for s in shapes(cfg).heads]
    head = np.searchsorted(np.cumsum(counts), records["prior"], side="right")
    s_conf = np.array([scales[head_name(j, "conf")] for j in range(len(counts))], np.float64)[head]
    s_loc = np.array([scales[head_name(j, "loc")] for j in range(len(counts))], np.float64)[head]
    conf = np.stack([records["conf_bg"], records["conf_face"]], axis=1) * s_conf[:, None]
    loc = records["loc"] * s_loc[:, None]
    return detect_subset(cfg, records["prior"].astype(np.int64), conf.astype(np.float32),
                         loc.astype(np.float32), threshold)
