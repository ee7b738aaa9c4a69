"""Pictures of detections: the input image with boxes and scores, for people rather than scripts."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable

import cv2
import numpy as np

from harness.errors import InputError
from harness.model.detect import Detection

GREEN, ORANGE = (60, 200, 60), (0, 140, 255)


def draw_detections(grey: np.ndarray, detections: Iterable[Detection], scale: int = 2,
                    expected: Iterable[Detection] = ()) -> np.ndarray:
    """BGR image, upscaled ``scale``× for legibility: detections green with their score, ``expected`` orange."""
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    img = cv2.resize(img, (grey.shape[1] * scale, grey.shape[0] * scale), interpolation=cv2.INTER_NEAREST)

    def box(d, colour):
        p0 = (int(round(d.x0 * scale)), int(round(d.y0 * scale)))
        p1 = (int(round(d.x1 * scale)), int(round(d.y1 * scale)))
        cv2.rectangle(img, p0, p1, colour, 1, cv2.LINE_8)
        return p0

    for d in expected:
        box(d, ORANGE)
    for d in detections:
        x, y = box(d, GREEN)
        cv2.putText(img, f"{d.score:.2f}", (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, GREEN, 1,
                    cv2.LINE_AA)
    return img


def save_picture(img: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok = cv2.imwrite(str(path), img)
    except cv2.error as exc:
        raise InputError(f"cannot write picture {path}: use a .png or .jpg name") from exc
    if not ok:
        raise InputError(f"cannot write picture {path}: use a .png or .jpg name in a writable folder")
    return path
