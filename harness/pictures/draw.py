"""Pictures of detections: the input image with boxes and scores, for people rather than scripts."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable

import cv2
import numpy as np

from harness.errors import InputError
from harness.model.detect import Detection

GREEN, ORANGE, BLACK = (60, 200, 60), (0, 140, 255), (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
LABEL_HEIGHT = 0.03  # a score's text is this fraction of the picture's height (at least MIN_LABEL_PX)
MIN_LABEL_PX = 9


def label_style(image_height: int) -> tuple[float, int, int]:
    """(font scale, stroke thickness, padding in pixels) for score labels on a picture ``image_height`` high: the
    text is ``LABEL_HEIGHT`` of the height (at least ``MIN_LABEL_PX``), the stroke about a tenth of the text."""
    text_px = max(MIN_LABEL_PX, round(LABEL_HEIGHT * image_height))
    thickness = max(1, round(text_px / 10))
    return cv2.getFontScaleFromHeight(FONT, text_px, thickness), thickness, max(2, text_px // 4)


def put_label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Write ``text`` in black on a filled ``colour`` box whose bottom-left corner is (x, y), moved inside the
    picture where it would stick out; returns the box (x0, y0, x1, y1), inclusive."""
    scale, thickness, pad = label_style(img.shape[0])
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    w, h = tw + 2 * pad, th + base + 2 * pad
    x0 = min(max(0, x), max(0, img.shape[1] - w))
    y0 = min(max(0, y - h), max(0, img.shape[0] - h))
    cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), colour, cv2.FILLED)
    cv2.putText(img, text, (x0 + pad, y0 + pad + th), FONT, scale, BLACK, thickness, cv2.LINE_AA)
    return x0, y0, x0 + w - 1, y0 + h - 1


def draw_detections(grey: np.ndarray, detections: Iterable[Detection], scale: int = 2,
                    expected: Iterable[Detection] = ()) -> np.ndarray:
    """BGR image, upscaled ``scale``× for legibility: detections green with their score on a filled label (sized
    by :func:`label_style` for the picture), ``expected`` orange. Boxes are in ``grey``'s frame: pass the image the
    model saw (``load_image``'s letterboxed one), not the original file."""
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    img = cv2.resize(img, (grey.shape[1] * scale, grey.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    line = max(1, round(img.shape[0] / 480))

    def box(d, colour):
        p0 = (int(round(d.x0 * scale)), int(round(d.y0 * scale)))
        p1 = (int(round(d.x1 * scale)), int(round(d.y1 * scale)))
        cv2.rectangle(img, p0, p1, colour, line, cv2.LINE_8)
        return p0

    for d in expected:
        box(d, ORANGE)
    for d in detections:
        x, y = box(d, GREEN)
        put_label(img, f"{d.score:.2f}", x, y, GREEN)
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
