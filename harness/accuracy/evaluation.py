"""Accuracy of a model on a labelled fixture set: run the reference on every image, then VOC metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.accuracy.metrics import Accuracy, evaluate
from harness.model.detect import Detection
from harness.model.image import load_image
from harness.model.modelfile import Model
from harness.model.run import run_reference
from harness.scenes.fixtures import Labelled, load


@dataclass(frozen=True)
class ImageResult:
    item: Labelled
    detections: tuple[Detection, ...]  # every detection above the model's candidate threshold, in model pixels
    truths: tuple[tuple[float, float, float, float], ...]  # scaled to the model's input size


@dataclass(frozen=True)
class Evaluation:
    mode: str
    model_id: str
    threshold: float
    overall: Accuracy
    subsets: dict[str, Accuracy]  # per top-level folder (scenes, photos)
    images: tuple[ImageResult, ...]


def scaled_truths(item: Labelled, hw: tuple[int, int]):
    """The fixture's face boxes in the pixels of a model input of size ``hw`` (height, width)."""
    sy, sx = hw[0] / item.size[0], hw[1] / item.size[1]
    return tuple((b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in item.boxes)


def evaluate_model(model: Model, fixtures: Path, mode: str | None = None, threshold: float | None = None,
                   progress=None) -> Evaluation:
    items = load(Path(fixtures))
    threshold = model.config["detection"]["score_thresh"] if threshold is None else threshold
    candidates = model.config["detection"]["conf_thresh"]
    results, used_mode = [], mode
    for k, item in enumerate(items):
        image = load_image(item.path, *model.input_hw)
        run = run_reference(model, image, mode, threshold=candidates)
        used_mode = run.mode
        results.append(ImageResult(item, run.detections, scaled_truths(item, model.input_hw)))
        if progress:
            progress(k + 1, len(items), item.name)

    def acc(rs):
        return evaluate([(r.detections, r.truths, r.item.difficult) for r in rs], threshold)

    groups: dict[str, list[ImageResult]] = {}
    for r in results:
        groups.setdefault(r.item.name.split("/")[0], []).append(r)
    subsets = {name: acc(rs) for name, rs in groups.items()
               if sum(len(r.truths) - sum(r.item.difficult) for r in rs)}
    return Evaluation(used_mode, model.model_id, threshold, acc(results), subsets, tuple(results))
