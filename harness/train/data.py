"""The training set: copy-paste scenes from the training crops only, made by the fixtures' generator with other
seeds, generated once into a pool (a few minutes on 2 cores) and cached next to the checkpoint."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from harness.scenes import compose, sources
from harness.scenes.compose import GENERATOR_VERSION, SceneSpec, compose_scene
from harness.scenes.fixtures import FIXTURE_SEED

TRAIN_SEED = 7  # calibration scenes use TRAIN_SEED + 1; none may equal the fixtures' seed
VALIDATION_SEED = 9  # scenes for choosing the operating threshold (training crops)
assert FIXTURE_SEED not in (TRAIN_SEED, TRAIN_SEED + 1, VALIDATION_SEED)


def train_spec(height: int, width: int) -> SceneSpec:
    return SceneSpec(height=height, width=width, faces=(0, 4), distractors=(0, 3),
                     face_ids=sources.TRAIN_FACES, nonface_ids=sources.TRAIN_NONFACES)


def _scene(args) -> tuple[np.ndarray, np.ndarray]:
    spec, seed, index = args
    sc = compose_scene(spec, seed, index)
    return sc.image, np.array([f.box for f in sc.faces], np.float32).reshape(-1, 4)


def make_scenes(spec: SceneSpec, seed: int, count: int, workers: int = 2, progress=None):
    """→ (images (N, H, W) uint8, list of (k, 4) pixel boxes)."""
    images = np.empty((count, spec.height, spec.width), np.uint8)
    boxes = []
    jobs = [(spec, seed, i) for i in range(count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, (img, b) in enumerate(pool.map(_scene, jobs, chunksize=64)):
            images[i] = img
            boxes.append(b)
            if progress and (i + 1) % 500 == 0:
                progress(f"scenes {i + 1}/{count}")
    return images, boxes


def load_pool(cache_dir: Path, spec: SceneSpec, seed: int, count: int, progress=None):
    """The training pool, from ``cache_dir`` when its key (spec, seed, count, generator code) matches."""
    code = b"".join(Path(m.__file__).read_bytes() for m in (compose, sources))  # a generator edit invalidates it
    key = hashlib.sha256(json.dumps([asdict(spec), seed, count, GENERATOR_VERSION]).encode() + code).hexdigest()[:12]
    path = Path(cache_dir) / f"pool-{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            images, flat, counts = z["images"], z["boxes"], z["counts"]
        return images, np.split(flat, np.cumsum(counts)[:-1])
    images, boxes = make_scenes(spec, seed, count, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, boxes=np.concatenate(boxes), counts=np.array([len(b) for b in boxes]))
    tmp.replace(path)
    return images, boxes
