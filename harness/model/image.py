"""Image files → the model's 8-bit grey input.

Colour is converted with OpenCV's BGR→grey, Y = 0.299R + 0.587G + 0.114B rounded to 8 bits; 16-bit images are
scaled to 8 bits; the result is letterboxed to the model input (see :func:`fit`) unless it already matches, so an
image of the model's size (every fixture image is 320x240) keeps its exact pixels.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from harness.errors import ImageError, InputError

PAD = 128          # letterbox padding: mid-grey, close to the model's input mean (117), so it reads as a flat area
MIN_SIDE = 8       # smaller images are refused: nothing a face detector could find survives the upscaling
FAR_UPSCALE = 4.0  # upscaling by more than this is warned about: detections on such an image are guesses


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


def letterbox_scale(shape: tuple[int, int], height: int, width: int) -> float:
    """The factor :func:`fit` scales an image of ``shape`` (height, width) by: the largest that fits both sides."""
    return min(height / shape[0], width / shape[1])


def fit(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    """Letterbox ``grey`` into (height, width), keeping its aspect ratio.

    The image is scaled by :func:`letterbox_scale` (INTER_AREA when shrinking, INTER_LINEAR when enlarging) so
    that it fills one dimension, then centred; the bands left over on the other dimension (top/bottom or
    left/right, the odd pixel going to the bottom or right) are filled with mid-grey ``PAD`` (128). An image of
    exactly (height, width) is returned unchanged, and one of the same aspect ratio is only resized, without
    bands. Detections are in the frame of the returned image (the model input), so ``--draw`` pictures it.
    """
    if grey.shape == (height, width):
        return grey
    s = letterbox_scale(grey.shape, height, width)
    h, w = min(height, max(1, round(grey.shape[0] * s))), min(width, max(1, round(grey.shape[1] * s)))
    resized = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if (h, w) == (height, width):
        return resized
    out = np.full((height, width), PAD, np.uint8)
    top, left = (height - h) // 2, (width - w) // 2
    out[top:top + h, left:left + w] = resized
    return out


def load_image(path: str | Path, height: int, width: int, *, warn: bool = True) -> np.ndarray:
    """Read any image OpenCV can decode → (height, width) uint8 grey, letterboxed as :func:`fit` says.

    Images smaller than 8x8 are refused (ImageError); one upscaled more than 4× gets a one-line warning on
    stderr unless ``warn`` is False."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image")
    if not path.exists():
        raise InputError(f"image {path} not found")
    if not os.access(path, os.R_OK):
        raise InputError(f"image {path} is not readable (check its permissions)")
    try:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageError(f"{path} is not an image OpenCV can read") from exc
    if img is None:
        raise ImageError(f"{path} is not an image OpenCV can read (PNG, JPEG, BMP, PGM, TIFF … expected)")
    grey = to_grey(img, str(path))
    ih, iw = grey.shape
    if ih < MIN_SIDE or iw < MIN_SIDE:
        raise ImageError(f"{path} is {iw}x{ih} pixels: too small for the model's {width}x{height} input "
                         f"(at least {MIN_SIDE}x{MIN_SIDE})")
    s = letterbox_scale(grey.shape, height, width)
    if s > FAR_UPSCALE and warn:
        print(f"harness: warning: {path} is {iw}x{ih} pixels, upscaled {s:.1f}x to fit the model's {width}x{height} "
              f"input: expect blurred faces and unreliable detections", file=sys.stderr, flush=True)
    return fit(grey, height, width)
