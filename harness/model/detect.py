"""Raw head outputs → face detections: S3FD priors, box decoding, softmax and greedy NMS (notes §2).

Works on EdgeML's raw vector (conf of all heads, then loc), so the float and fixed-point references, and later
the device, share one post-processing. Detections are in pixel coordinates of the model input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from harness.model.archs import shapes


@dataclass(frozen=True)
class Detection:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    def as_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def priors(cfg: dict) -> np.ndarray:
    """(P, 4) priors (cx, cy, w, h), normalised, level by level in row-major order."""
    h, w = cfg["input"]["height"], cfg["input"]["width"]
    pc = cfg["priors"]
    out = []
    for (fh, fw, _), step, size in zip(shapes(cfg).heads, pc["steps"], pc["sizes"]):
        ii, jj = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx, cy = (jj.ravel() + 0.5) * step / w, (ii.ravel() + 0.5) * step / h
        out.append(np.stack([cx, cy, np.full_like(cx, size / w), np.full_like(cy, size / h)], axis=1))
    p = np.concatenate(out)
    return np.clip(p, 0.0, 1.0) if pc["clip"] else p


def split_raw(cfg: dict, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw vector → (conf (P, 2), loc (P, 4))."""
    n = sum(s[0] * s[1] for s in shapes(cfg).heads)
    raw = np.asarray(raw, np.float64).reshape(-1)
    if raw.size != 6 * n:
        raise ValueError(f"raw output has {raw.size} values, expected {6 * n}")
    return raw[:2 * n].reshape(n, 2), raw[2 * n:].reshape(n, 4)


def decode(loc: np.ndarray, pri: np.ndarray, variance) -> np.ndarray:
    """S3FD decode → (P, 4) corners (x0, y0, x1, y1), normalised."""
    centre = pri[:, :2] + loc[:, :2] * variance[0] * pri[:, 2:]
    size = pri[:, 2:] * np.exp(loc[:, 2:] * variance[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def box_iou(a: Detection, b: Detection) -> float:
    """IoU of two detections, as NMS computes it (no +1)."""
    iw = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    ih = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = iw * ih
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def softmax_face(conf: np.ndarray) -> np.ndarray:
    e = np.exp(conf - conf.max(axis=1, keepdims=True))
    return e[:, 1] / e.sum(axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float, top_k: int, keep_max: int) -> np.ndarray:
    """Greedy NMS as EdgeML: best first among the top ``top_k``; IoU with no +1; suppress IoU > thresh."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size and len(keep) < keep_max:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = iw * ih
        iou = inter / (area[i] + area[rest] - inter)
        order = rest[~(iou > iou_thresh)]
    return np.array(keep, dtype=np.int64)


def detect(cfg: dict, raw: np.ndarray, threshold: float | None = None) -> list[Detection]:
    """Detections with score ≥ ``threshold`` (default: the model's operating threshold), best first."""
    conf, loc = split_raw(cfg, raw)
    return detect_subset(cfg, np.arange(len(conf)), conf, loc, threshold)


def detect_subset(cfg: dict, prior_idx: np.ndarray, conf: np.ndarray, loc: np.ndarray,
                  threshold: float | None = None) -> list[Detection]:
    """``detect`` over some priors only (their indices, conf (n, 2) and loc (n, 4), in prior order). Every step is
    per prior, or ordered by score with ties kept in prior order, so a subset holding every prior that can score
    ≥ threshold gives exactly ``detect``'s result."""
    det = cfg["detection"]
    threshold = det["score_thresh"] if threshold is None else threshold
    scores = softmax_face(np.asarray(conf, np.float64))
    keep_c = np.flatnonzero(scores > det["conf_thresh"])
    idx = np.asarray(prior_idx)[keep_c]
    boxes = decode(np.asarray(loc, np.float64)[keep_c], priors(cfg)[idx], cfg["priors"]["variance"])
    sc = scores[keep_c]
    keep = nms(boxes, sc, det["nms_thresh"], det["nms_top_k"], det["top_k"])
    h, w = cfg["input"]["height"], cfg["input"]["width"]
    scale = np.array([w, h, w, h], np.float64)
    return [Detection(*(boxes[k] * scale), float(sc[k])) for k in keep if sc[k] >= threshold]
