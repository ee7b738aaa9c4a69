"""Deterministic synthetic grey images: calibration and test inputs when no real images are given.

Each image mixes a smooth random field, a gradient, filled shapes and noise, so activations cover realistic
ranges. The same (seed, index, size) always gives the same bytes (NumPy's PCG64 and OpenCV's drawing and
resizing are deterministic).
"""

from __future__ import annotations

import cv2
import numpy as np


def synthetic_image(height: int, width: int, seed: int = 0, index: int = 0) -> np.ndarray:
    rng = np.random.default_rng([seed, index])
    coarse = rng.uniform(0, 255, size=(max(2, height // 40), max(2, width // 40))).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    img = 0.6 * img + 0.4 * (127 + 100 * np.cos(angle) * (xx / width - 0.5) + 100 * np.sin(angle) * (yy / height - 0.5))
    for _ in range(int(rng.integers(3, 9))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(4, max(5, width // 6))), int(rng.integers(4, max(5, height // 6))))
        colour = float(rng.uniform(0, 255))
        if rng.random() < 0.5:
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            cv2.rectangle(img, centre, (centre[0] + axes[0], centre[1] + axes[1]), colour, -1)
    img += rng.normal(0, rng.uniform(0, 12), size=img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_images(height: int, width: int, count: int, seed: int = 0) -> list[np.ndarray]:
    return [synthetic_image(height, width, seed, i) for i in range(count)]


def adversarial_images(height: int, width: int) -> dict[str, np.ndarray]:
    """Edge cases for bit-exactness checks: constant, extreme, checkerboard, noise, gradients."""
    yy, xx = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(1234)
    return {
        "zeros": np.zeros((height, width), np.uint8),
        "full": np.full((height, width), 255, np.uint8),
        "checker": (((yy + xx) % 2) * 255).astype(np.uint8),
        "noise": rng.integers(0, 256, size=(height, width), dtype=np.uint8),
        "hgradient": (xx * 255 // max(1, width - 1)).astype(np.uint8),
        "vgradient": (yy * 255 // max(1, height - 1)).astype(np.uint8),
    }
