"""The labelled fixture set: write it, check it byte for byte, and load it.

Layout of a fixture directory: ``scenes/scene-NNN.{png,json}`` (copy-paste scenes from held-out crops) and
``photos/NAME.{png,json}`` (real photographs, labelled by hand). Each JSON label holds the image name, its size,
the face boxes in pixels ``[x0, y0, x1, y1]`` (exclusive end) with a ``difficult`` flag, and the generator name,
version and seed that made it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from harness.errors import InputError
from harness.scenes import sources
from harness.scenes.compose import GENERATOR, GENERATOR_VERSION, SceneSpec, compose_scene

FIXTURE_SEED = 20261128
FIXTURE_SCENES = 32
CANVAS = (240, 320)


@dataclass(frozen=True)
class Labelled:
    """One fixture image and its ground truth."""

    name: str
    path: Path
    boxes: tuple[tuple[float, float, float, float], ...]
    difficult: tuple[bool, ...]
    size: tuple[int, int]  # (height, width) the boxes refer to

    def image(self) -> np.ndarray:
        img = cv2.imread(str(self.path), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 2:
            raise InputError(f"fixture image {self.path} is missing or not 8-bit grey; regenerate with "
                             "`harness fixtures generate`")
        return img


def _label(image_name: str, faces: list[dict], extra: dict) -> dict:
    return {"image": image_name, "width": CANVAS[1], "height": CANVAS[0], "faces": faces,
            "generator": GENERATOR, "generator_version": GENERATOR_VERSION, **extra}


def dump_label(label: dict) -> str:
    """JSON with one key per line and one face per line: small diffs, easy to read."""
    lines = []
    for key, value in label.items():
        if key == "faces":
            faces = ",\n".join(f"  {json.dumps(f)}" for f in value)
            lines.append(f' "faces": [\n{faces}\n ]' if value else ' "faces": []')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _write(folder: Path, stem: str, image: np.ndarray, label: dict) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(folder / f"{stem}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise InputError(f"cannot write {folder / stem}.png")
    (folder / f"{stem}.json").write_text(dump_label(label))
    return [folder / f"{stem}.png", folder / f"{stem}.json"]


def photo_scene(photo: sources.Photo) -> tuple[np.ndarray, list[dict]]:
    """Resize a photo by its scale and place it on a 320×240 canvas filled with its median grey."""
    src = photo.load()
    h, w = src.shape
    sw, sh = int(round(w * photo.scale)), int(round(h * photo.scale))
    small = cv2.resize(src, (sw, sh), interpolation=cv2.INTER_AREA)
    canvas = np.full(CANVAS, int(np.median(small)), np.uint8)
    ox, oy = photo.offset
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + sw, CANVAS[1]), min(oy + sh, CANVAS[0])
    canvas[y0:y1, x0:x1] = small[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    faces = []
    for (fx0, fy0, fx1, fy1), hard in zip(photo.faces, photo.difficult):
        box = [round(fx0 * photo.scale + ox, 1), round(fy0 * photo.scale + oy, 1),
               round(fx1 * photo.scale + ox, 1), round(fy1 * photo.scale + oy, 1)]
        faces.append({"box": box, "difficult": hard})
    return canvas, faces


def generate(out: Path, scenes: int = FIXTURE_SCENES, seed: int = FIXTURE_SEED, progress=None) -> list[Path]:
    """Write the fixture set under ``out``; returns the files written."""
    out = Path(out)
    written = []
    spec = SceneSpec(height=CANVAS[0], width=CANVAS[1])
    for i in range(scenes):
        sc = compose_scene(spec, seed, i)
        faces = [{"box": list(f.box), "difficult": False, "crop": f.crop, "occlusion": f.occlusion}
                 for f in sc.faces]
        written += _write(out / "scenes", f"scene-{i:03d}", sc.image,
               _label(f"scene-{i:03d}.png", faces, {"seed": seed, "index": i, **sc.meta}))
        if progress:
            progress(i + 1, scenes + len(sources.PHOTOS))
    for k, photo in enumerate(sources.PHOTOS):
        image, faces = photo_scene(photo)
        written += _write(out / "photos", photo.name, image,
               _label(f"{photo.name}.png", faces, {"seed": None, "source": photo.source, "licence": photo.licence,
                                                   "labelled": "by hand, in the source photo's pixels",
                                                   "scale": photo.scale, "offset": list(photo.offset)}))
        if progress:
            progress(scenes + k + 1, scenes + len(sources.PHOTOS))
    return written


def check(fixtures: Path) -> list[str]:
    """Regenerate into a temporary folder; return the files that differ from ``fixtures`` (empty if identical)."""
    fixtures = Path(fixtures)
    with tempfile.TemporaryDirectory() as tmp:
        made = generate(Path(tmp))
        rel_made = {p.relative_to(tmp) for p in made}
        rel_have = {p.relative_to(fixtures) for d in ("scenes", "photos")
                    for p in (fixtures / d).glob("*") if p.suffix in (".png", ".json")}
        diff = sorted(str(r) for r in rel_made ^ rel_have)
        diff += sorted(str(r) for r in rel_made & rel_have
                       if (Path(tmp) / r).read_bytes() != (fixtures / r).read_bytes())
    return diff


def load(fixtures: Path) -> list[Labelled]:
    """Every labelled image under ``fixtures`` (any ``*.json`` with a ``faces`` list next to its image)."""
    fixtures = Path(fixtures)
    if not fixtures.is_dir():
        raise InputError(f"fixture directory {fixtures} not found; create it with `harness fixtures generate`")
    items = []
    for label_path in sorted(fixtures.rglob("*.json")):
        try:
            label = json.loads(label_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"label file {label_path} is not valid JSON: {exc}") from exc
        if not isinstance(label, dict) or "faces" not in label:
            continue
        try:
            boxes = tuple(tuple(float(v) for v in f["box"]) for f in label["faces"])
            hard = tuple(bool(f.get("difficult", False)) for f in label["faces"])
            image_path = label_path.parent / label["image"]
            size = (int(label["height"]), int(label["width"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"label file {label_path} is malformed ({exc}); each face needs a 'box' "
                             "[x0, y0, x1, y1], and the label 'image', 'width' and 'height'") from exc
        if any(len(b) != 4 for b in boxes):
            raise InputError(f"label file {label_path}: a box does not have 4 numbers")
        items.append(Labelled(str(label_path.relative_to(fixtures).with_suffix("")), image_path, boxes, hard, size))
    if not items:
        raise InputError(f"no labelled images (*.json with 'faces') under {fixtures}")
    return items
