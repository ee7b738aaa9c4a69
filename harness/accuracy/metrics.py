"""Face-detection accuracy, PASCAL VOC style: greedy matching at IoU ≥ 0.5 and all-point interpolated AP.

Detections of all images are pooled and ranked by score; after each one, precision and recall give a point of the
PR curve. AP (VOC2010+) is the area under the precision *envelope*, the curve made monotone non-increasing by
replacing each precision with the best precision at any higher recall, integrated at every recall step
(not at 11 fixed recalls as in VOC2007). The operating point is precision/recall of the detections kept at a
score threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]
Det = tuple[float, float, float, float, float]
_FIELDS = ("x0", "y0", "x1", "y1", "score")


@dataclass(frozen=True)
class Accuracy:
    ap50: float
    precision: float
    recall: float
    images: int
    faces: int
    true_positives: int
    false_positives: int
    curve: tuple[tuple[float, float, float], ...]  # (score, precision, recall) after each ranked detection

    def as_dict(self) -> dict:
        keys = ("ap50", "precision", "recall", "images", "faces", "true_positives", "false_positives")
        return {k: round(v, 4) if isinstance(v, float) else v for k in keys for v in [getattr(self, k)]}


def _as_tuple(box: Any, n: int = 5) -> tuple[float, ...]:
    """A tuple or an object with x0, y0, x1, y1[, score] (e.g. ``Detection``) → the first ``n`` fields as floats."""
    if hasattr(box, "x0"):
        return tuple(float(getattr(box, f)) for f in _FIELDS[:n])
    return tuple(float(v) for v in box[:n])


def _iou(box: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``truths`` (no +1, as in NMS); 0 where the union is empty."""
    iw = np.clip(np.minimum(box[2], truths[:, 2]) - np.maximum(box[0], truths[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], truths[:, 3]) - np.maximum(box[1], truths[:, 1]), 0, None)
    inter = iw * ih
    area_t = (truths[:, 2] - truths[:, 0]) * (truths[:, 3] - truths[:, 1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + area_t - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_detections(dets: Sequence[Any], truths: Sequence[Any], iou_thresh: float = 0.5,
                     difficult: Sequence[bool] | None = None) -> list[bool | None]:
    """True-positive flag of each detection of one image, in the order of ``dets``.

    Best score first (ties: input order); each detection takes the unmatched truth it overlaps most, if that IoU is
    ≥ ``iou_thresh``. A truth matches at most once, so duplicate detections of a face are false positives.
    A detection whose match is a ``difficult`` truth gets ``None``: VOC counts it neither right nor wrong.
    """
    d = np.array([_as_tuple(x) for x in dets], np.float64).reshape(-1, 5)
    t = np.array([_as_tuple(x, 4) for x in truths], np.float64).reshape(-1, 4)
    hard = np.zeros(len(t), bool) if difficult is None else np.asarray(difficult, bool).reshape(-1)
    flags: list[bool | None] = [False] * len(d)
    taken = np.zeros(len(t), bool)
    for i in np.argsort(-d[:, 4], kind="stable"):
        if not len(t):
            break
        iou = np.where(taken & ~hard, -1.0, _iou(d[i], t))  # matched truths are out of reach
        j = int(np.argmax(iou))
        if iou[j] >= iou_thresh:
            taken[j] = True
            flags[i] = None if hard[j] else True
    return flags


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC2010+ devkit): area under the monotone precision envelope."""
    mrec = np.concatenate([[0.0], np.asarray(recall, np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # envelope: best precision at this or any higher recall
    i = np.flatnonzero(mrec[1:] != mrec[:-1])  # only where recall moves does area accrue
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def evaluate(per_image: Sequence[tuple], threshold: float, iou_thresh: float = 0.5) -> Accuracy:
    """Accuracy over images given as (detections, truths[, difficult flags]); the operating point keeps scores
    ≥ ``threshold``. Difficult truths do not count as faces, and detections of them are left out."""
    scores, flags, faces = [], [], 0
    for dets, truths, *rest in per_image:
        difficult = rest[0] if rest else [False] * len(truths)
        # Match with every detection of the image: greedy matching runs in score order, so the flags of those
        # above the threshold are the same as if only they had been matched.
        for det, flag in zip(dets, match_detections(dets, truths, iou_thresh, difficult)):
            if flag is not None:
                flags.append(flag)
                scores.append(_as_tuple(det)[4])
        faces += len(truths) - int(np.sum(np.asarray(difficult, bool)))
    if faces == 0:
        raise ValueError("no ground-truth faces")

    s, tp = np.array(scores, np.float64), np.array(flags, bool)
    order = np.argsort(-s, kind="stable")  # pooled ranking; ties keep image order, then detection order
    s, tp = s[order], tp[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(~tp)
    prec, rec = ctp / np.maximum(ctp + cfp, 1), ctp / faces

    keep = s >= threshold
    n_tp, n_fp = int(tp[keep].sum()), int((~tp[keep]).sum())
    return Accuracy(
        ap50=voc_ap(rec, prec),
        precision=n_tp / (n_tp + n_fp) if n_tp + n_fp else 0.0,  # nothing kept: no correct claims (faces > 0 here)
        recall=n_tp / faces,
        images=len(per_image),
        faces=faces,
        true_positives=n_tp,
        false_positives=n_fp,
        curve=tuple(zip(s.tolist(), prec.tolist(), rec.tolist())),
    )
