"""Model file → generated C in a build directory (never committed): ``model.c`` and ``model_config.h``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.codegen.emit import emit
from harness.codegen.graph import Graph, device_graph
from harness.codegen.plan import MemoryPlan, overlaps, plan
from harness.errors import CodegenError
from harness.model.candidates import device_threshold, head_thresholds
from harness.model.modelfile import Model

ARENA_ALIGNMENT = 4


@dataclass(frozen=True)
class GeneratedModel:
    directory: Path
    files: tuple[Path, ...]
    model_id: str
    graph: Graph
    plan: MemoryPlan
    thresholds: tuple[int, ...]   # per head, integer face − background steps
    score_threshold: float        # the score those thresholds select candidates for


def plan_model(model: Model) -> tuple[Graph, MemoryPlan]:
    graph = device_graph(model)
    mp = plan(graph.buffers(), ARENA_ALIGNMENT)
    bad = overlaps(mp)
    if bad:  # the planner's own guarantee; a failure here is a planner bug, never the user's
        raise CodegenError(f"memory plan overlaps live buffers: {bad[:3]}")
    return graph, mp


def generate(model: Model, out_dir: str | Path, threshold: float | None = None) -> GeneratedModel:
    graph, mp = plan_model(model)
    thresholds = head_thresholds(model.config, model.require_quant()["scales"], threshold)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in emit(model, graph, mp, thresholds).items():
        path = out / name
        if not path.is_file() or path.read_text() != text:  # unchanged files keep their timestamps
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)  # atomic: a concurrent build never compiles a half-written file
        paths.append(path)
    return GeneratedModel(out, tuple(paths), model.model_id, graph, mp, tuple(thresholds),
                          device_threshold(model.config, threshold))
