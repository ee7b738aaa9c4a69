"""Copy-paste scenes: LFW face crops and non-face crops pasted over varied grey backgrounds, with their boxes.

One generator serves the fixtures and training (different seeds, disjoint crops). A scene is a pure function of
(spec, seed, index): pixel work stays in integer OpenCV paths and IEEE basic arithmetic, so the bytes are the
same on every run. Faces are square (LFW crops are tight, square face crops) and the ground-truth box is the
pasted square; a soft rounded mask hides the square edge, for faces and non-faces alike, so the edge is no cue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from harness.model.synthetic import synthetic_image
from harness.scenes import sources

GENERATOR = "harness.scenes.compose"
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SceneSpec:
    height: int = 240
    width: int = 320
    faces: tuple[int, int] = (0, 6)            # faces per scene, inclusive
    face_size: tuple[int, int] = (16, 64)      # square side in pixels, inclusive
    distractors: tuple[int, int] = (0, 4)      # non-face crops per scene
    face_ids: tuple[int, ...] = sources.FIXTURE_FACES
    nonface_ids: tuple[int, ...] = sources.FIXTURE_NONFACES
    occlusion_prob: float = 0.25


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, exclusive end
    crop: int                       # index into skimage.data.lfw_subset()
    occlusion: float                # fraction of the box covered by an occluder


@dataclass(frozen=True)
class Scene:
    image: np.ndarray
    faces: tuple[Face, ...]
    meta: dict = field(default_factory=dict)


def soft_mask(size: int) -> np.ndarray:
    """(size, size) uint16 alpha in [0, 256]: a rounded square with a feathered edge."""
    half, radius, feather = size / 2.0, size / 4.0, max(1.0, size / 10.0)
    c = np.arange(size, dtype=np.float64) + 0.5 - half
    qx = np.abs(c)[None, :] - (half - radius)
    qy = np.abs(c)[:, None] - (half - radius)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    dist = outside + np.minimum(np.maximum(qx, qy), 0.0) - radius  # signed distance, negative inside
    return np.rint(np.clip(-dist / feather, 0.0, 1.0) * 256.0).astype(np.uint16)


def _levels(img: np.ndarray, gain: float, offset: float) -> np.ndarray:
    lut = np.clip(np.rint((np.arange(256, dtype=np.float64) - 128.0) * gain + 128.0 + offset), 0, 255)
    return cv2.LUT(img, lut.astype(np.uint8))


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.3:
        return img
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.GaussianBlur(img, (k, k), sigma, borderType=cv2.BORDER_REFLECT)


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    s = patch.shape[0]
    a = soft_mask(s)
    region = canvas[y:y + s, x:x + s].astype(np.uint16)
    canvas[y:y + s, x:x + s] = ((patch.astype(np.uint16) * a + region * (256 - a) + 128) >> 8).astype(np.uint8)


def _crop_patch(rng: np.random.Generator, crop_id: int, size: int) -> np.ndarray:
    """A crop resized to ``size``, flipped at random, with its own levels and focus."""
    crop = sources.lfw_crops()[crop_id]
    interp = cv2.INTER_AREA if size < crop.shape[0] else cv2.INTER_LINEAR
    patch = cv2.resize(crop, (size, size), interpolation=interp)
    if rng.random() < 0.5:
        patch = patch[:, ::-1].copy()
    patch = _levels(patch, rng.uniform(0.6, 1.4), rng.uniform(-40, 40))
    return _blur(patch, rng.uniform(0.0, 1.5) if rng.random() < 0.4 else 0.0)


def _background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, str]:
    if rng.random() < 0.2:
        seed = int(rng.integers(2**31))
        return synthetic_image(h, w, seed=seed), f"synthetic:{seed}"
    name = sources.BACKGROUNDS[int(rng.integers(len(sources.BACKGROUNDS)))]
    src = sources.background(name)
    sh, sw = src.shape
    zoom = rng.uniform(0.5, 1.0)  # the fraction of the source taken, at the scene's aspect ratio
    ch = int(min(sh, sw * h / w) * zoom)
    cw = int(ch * w / h)
    y0, x0 = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
    crop = src[y0:y0 + ch, x0:x0 + cw]
    img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
    return _levels(img, rng.uniform(0.5, 1.2), rng.uniform(-50, 50)), f"{name}:{x0},{y0},{cw}x{ch}"


def _iou(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _place(rng, size: int, h: int, w: int, taken: list, max_iou: float):
    for _ in range(50):
        x, y = int(rng.integers(0, w - size + 1)), int(rng.integers(0, h - size + 1))
        box = (x, y, x + size, y + size)
        if all(_iou(box, t) <= max_iou for t in taken):
            return box
    return None


def _occlude(rng, canvas: np.ndarray, box, nonface_ids) -> float:
    """Cover 15–40 % of the face from one side, with a flat bar or a non-face crop; returns the covered fraction."""
    x0, y0, x1, y1 = box
    s = x1 - x0
    depth = max(1, int(s * rng.uniform(0.15, 0.4)))
    side = int(rng.integers(4))
    ox0, oy0, ox1, oy1 = [(x0, y0, x0 + depth, y1), (x1 - depth, y0, x1, y1),
                          (x0, y0, x1, y0 + depth), (x0, y1 - depth, x1, y1)][side]
    if rng.random() < 0.5:
        canvas[oy0:oy1, ox0:ox1] = int(rng.integers(0, 256))
    else:
        crop = sources.lfw_crops()[nonface_ids[int(rng.integers(len(nonface_ids)))]]
        canvas[oy0:oy1, ox0:ox1] = cv2.resize(crop, (ox1 - ox0, oy1 - oy0), interpolation=cv2.INTER_LINEAR)
    return depth / s


def _add_crop(rng, canvas: np.ndarray, spec: SceneSpec, ids: tuple[int, ...], taken: list):
    """Paste one crop from ``ids`` at a free place; returns (box, crop id), or None when nothing is free."""
    h, w = canvas.shape
    size = int(rng.integers(spec.face_size[0], min(spec.face_size[1], h, w) + 1))
    box = _place(rng, size, h, w, taken, 0.0)
    if box is None:
        return None
    crop = ids[int(rng.integers(len(ids)))]
    _paste(canvas, _crop_patch(rng, crop, size), box[0], box[1])
    taken.append(box)
    return box, crop


def compose_scene(spec: SceneSpec, seed: int, index: int) -> Scene:
    rng = np.random.default_rng([seed, index])
    h, w = spec.height, spec.width
    canvas, bg_name = _background(rng, h, w)
    faces: list[Face] = []
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(int(rng.integers(spec.faces[0], spec.faces[1] + 1))):
        placed = _add_crop(rng, canvas, spec, spec.face_ids, taken)
        if placed:
            occ = _occlude(rng, canvas, placed[0], spec.nonface_ids) if rng.random() < spec.occlusion_prob else 0.0
            faces.append(Face(placed[0], placed[1], round(occ, 3)))
    distractors = []
    for _ in range(int(rng.integers(spec.distractors[0], spec.distractors[1] + 1))):
        placed = _add_crop(rng, canvas, spec, spec.nonface_ids, taken)
        if placed:
            distractors.append({"box": list(placed[0]), "crop": placed[1]})
    canvas = _levels(canvas, rng.uniform(0.7, 1.2), rng.uniform(-30, 30))
    if rng.random() < 0.3:
        canvas = _blur(canvas, rng.uniform(0.5, 1.2))
    noise = rng.uniform(0.0, 10.0)
    canvas = np.clip(np.rint(canvas + rng.normal(0.0, noise, canvas.shape)), 0, 255).astype(np.uint8)
    meta = {"background": bg_name, "distractors": distractors, "noise_sigma": round(noise, 3)}
    return Scene(canvas, tuple(faces), meta)
