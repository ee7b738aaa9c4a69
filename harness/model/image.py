"""Image files → the model's 8-bit grey input.

Colour is converted with OpenCV's BGR→grey, Y = 0.299R + 0.587G + 0.114B rounded to 8 bits; 16-bit images are
scaled to 8 bits; the result is resized to the model input with INTER_AREA unless it already matches.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from harness.errors import ImageError, InputError


def to_grey(img: np.ndarray, name: str = "image") -> np.ndarray:
    if img.dtype == np.uint16:
        img = np.round(img / 257.0).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ImageError(f"{name}: pixel type {img.dtype} is not supported (use an 8- or 16-bit image)")
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[..., 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        return cv2.cvtColor(img, code)
    raise ImageError(f"{name}: unsupported image shape {img.shape}")


def fit(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    if grey.shape == (height, width):
        return grey
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)


def load_image(path: str | Path, height: int, width: int) -> np.ndarray:
    """Read any image OpenCV can decode → (height, width) uint8 grey."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} not found")
    try:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageError(f"{path} is not an image OpenCV can read") from exc
    if img is None:
        raise ImageError(f"{path} is not an image OpenCV can read (PNG, JPEG, BMP, PGM, TIFF … expected)")
    return fit(to_grey(img, str(path)), height, width)
