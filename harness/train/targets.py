"""S3FD anchor matching and box encoding (NumPy): ground-truth boxes → per-prior class and loc targets.

Matching follows S3FD (Zhang et al., 2017) as EdgeML's ``bbox_utils.match`` does: a prior is a face if its IoU
with a face is ≥ 0.35, every face keeps its best prior, and faces left with few priors ("scale compensation")
take their next-best priors with IoU > 0.1, up to the average number of priors per face.
"""

from __future__ import annotations

import numpy as np

MATCH_IOU, COMPENSATE_IOU = 0.35, 0.1


def corners(pri: np.ndarray) -> np.ndarray:
    """(cx, cy, w, h) → (x0, y0, x1, y1)."""
    return np.concatenate([pri[:, :2] - pri[:, 2:] / 2, pri[:, :2] + pri[:, 2:] / 2], axis=1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) × (M, 4) corner boxes → (N, M) IoU."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def encode(matched: np.ndarray, pri: np.ndarray, variance) -> np.ndarray:
    """Corner boxes matched to priors → loc targets, the inverse of ``harness.model.detect.decode``."""
    centre = ((matched[:, :2] + matched[:, 2:]) / 2 - pri[:, :2]) / (variance[0] * pri[:, 2:])
    size = np.log((matched[:, 2:] - matched[:, :2]) / pri[:, 2:]) / variance[1]
    return np.concatenate([centre, size], axis=1)


def match(truths: np.ndarray, pri: np.ndarray, variance) -> tuple[np.ndarray, np.ndarray]:
    """Normalised corner ``truths`` (G, 4) → (labels (P,) int64 in {0, 1}, loc targets (P, 4) float32)."""
    n = pri.shape[0]
    if truths.size == 0:
        return np.zeros(n, np.int64), np.zeros((n, 4), np.float32)
    iou = iou_matrix(truths, corners(pri))                      # (G, P)
    best_truth = iou.argmax(axis=0)
    best_truth_iou = iou.max(axis=0)
    best_prior = iou.argmax(axis=1)
    best_truth_iou[best_prior] = 2.0                            # every face keeps its best prior
    best_truth[best_prior] = np.arange(truths.shape[0])
    labels = (best_truth_iou >= MATCH_IOU).astype(np.int64)
    counts = np.bincount(best_truth[labels == 1], minlength=truths.shape[0])
    target = int(np.ceil(counts.mean()))
    for g in np.flatnonzero(counts < target):                   # scale compensation, per face
        cand = np.flatnonzero((labels == 0) & (iou[g] > COMPENSATE_IOU))
        cand = cand[np.argsort(-iou[g, cand], kind="stable")][:target - counts[g]]
        labels[cand], best_truth[cand] = 1, g
    loc = encode(truths[best_truth], pri, variance).astype(np.float32)
    return labels, loc
