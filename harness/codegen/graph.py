"""The device's view of a quantised model: the layers it runs, in the order it runs them, with every tensor's
shape and type, each layer's scratch and multiply-accumulate count, and the buffers' lifetimes for the planner.

The layers and their order come from ``harness.model.layers.network(cfg, device=True)``, each step's shape, scratch,
MACs and in-place offset from its kind's ``step``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.codegen.plan import Buffer, plan
from harness.model.archs import Shapes, shapes
from harness.model.layers import Layer, kind, network
from harness.model.modelfile import Model
from harness.protocol.rowcode import upload_scratch

CANDIDATE_BYTES = 14  # rp_candidate: uint16 prior, int16 bg, face, loc[4]
ITEM = {"uint8": 1, "int8": 1, "int16": 2, "candidate": CANDIDATE_BYTES}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, int, int]   # HWC
    dtype: str                    # "uint8", "int8", "int16" or "candidate"
    nbytes: int


@dataclass(frozen=True)
class Step:
    name: str          # the layer name the reference uses (fingerprints are keyed by it)
    kind: str          # its layer kind (harness/model/layers.py)
    inputs: tuple[str, ...]
    output: str
    scratch: int       # bytes of kernel scratch in the arena
    macs: int          # multiply-accumulates (as the kernel performs them)
    in_place: int | None = None  # the kernel may write its output this many bytes from its input's start
    layer: Layer | None = field(default=None, repr=False, compare=False)  # the model layer it runs
    spare: int = 0     # of `scratch`, the bytes beyond the kernel's need granted from idle RAM (_grant_spare)


@dataclass(frozen=True)
class Graph:
    tensors: dict[str, Tensor]
    steps: tuple[Step, ...]
    max_candidates: int

    def without_spare(self) -> Graph:
        """Every step with the scratch its kernel needs and no more: what a schedule other than the layer-by-layer
        one the spare was granted for (row streaming, harness/codegen/rings.py) must assume."""
        steps = tuple(replace(s, scratch=s.scratch - s.spare, spare=0) for s in self.steps)
        return Graph(self.tensors, steps, self.max_candidates)

    def streamed(self) -> tuple[Step, ...]:
        """The layers that run as the image's rows arrive (rp_model_stream, docs/streaming.md): the first steps
        whose kinds stream, each in place over the output of the one before (the image for the first), which no
        other layer reads. In place, each writes its rows over rows no later row reads (conv_in_place), so rows
        still to arrive are never overwritten; a layer that cannot run in place (a stem with more than 4 channels)
        ends the streamed front."""
        out, source = [], "input"
        for s in self.steps:
            k = kind(s.kind)
            readers = [r for r in self.steps if source in r.inputs]
            if not (k.streams and k.rows) or s.inputs != (source,) or s.in_place is None or readers != [s]:
                break
            out.append(s)
            source = s.output
        return tuple(out)

    def buffers(self, stream: bool = True) -> list[Buffer]:
        """Every arena buffer with its lifetime in steps: step 0 is the upload, layer i is step i + 1. The input
        fills in step 0 beside the device's upload scratch (harness/protocol/rowcode.py), which the layers that
        stream share with it; the candidates (the run's result) live to the end."""
        first, last = {}, {}
        end = len(self.steps)
        for i, s in enumerate(self.steps, 1):
            for t in s.inputs:
                last[t] = i
            first.setdefault(s.output, i)
            last.setdefault(s.output, i)
        first["input"] = 0
        last["candidates"] = end
        made = {s.output: i for i, s in enumerate(self.steps, 1)}
        for s in self.steps:  # a layer that reads groups of its inputs as they come: they die then, and it starts
            parts = kind(s.kind).consumes(s.layer) if kind(s.kind).consumes else ()
            for group in parts:
                for t in group:
                    last[t] = max(made[u] for u in group)
            if parts:
                first[s.output] = min(max(made[u] for u in group) for group in parts)
        # in place where the kernel allows it and its input dies at that step: chains of ties form groups
        group, rel = {}, {}
        for i, s in enumerate(self.steps, 1):
            src = s.inputs[0] if s.inputs else None
            if s.in_place is not None and last.get(src) == i:
                group[s.output] = group.setdefault(src, src)
                rel.setdefault(src, 0)
                rel[s.output] = rel[src] + s.in_place
        bufs = [Buffer(t.name, t.nbytes, first[t.name], last[t.name], group.get(t.name, ""), rel.get(t.name, 0))
                for t in self.tensors.values()]
        # the layers that stream run between the upload's rows: their scratch and the upload's ring live from the
        # first row to the last streamed layer's end, beside the image rows still to come (their tensors go on in
        # place, each row written over rows no later row reads: conv_in_place, rp_model.h)
        streamed = len(self.streamed()) if stream else 0
        bufs += [Buffer(f"{s.name}.scratch", s.scratch, 0 if i <= streamed else i, max(i, streamed))
                 for i, s in enumerate(self.steps, 1) if s.scratch]
        bufs.append(Buffer("upload", upload_scratch(self.tensors["input"].shape[1]), 0, streamed))
        return bufs


def _tensor(name: str, shape, dtype: str) -> Tensor:
    h, w, c = (int(v) for v in shape)
    return Tensor(name, (h, w, c), dtype, h * w * c * ITEM[dtype])


def conv_in_place(src: tuple[int, int, int], out: tuple[int, int, int], k: int, stride: int) -> int | None:
    """Where a raster-order conv may start its output below its input so that output row oy never reaches an
    input row a later output row reads: out + (oy+1)·Wo·Co ≤ in + (oy·s − pad)·W·C for every oy. It holds for all
    oy when one output row is no longer than s input rows; then oy = 0 is the binding case."""
    row_in, row_out = src[1] * src[2], out[1] * out[2]
    if row_out > stride * row_in:
        return None
    return -(k // 2 * row_in + row_out) // 4 * 4  # rounded down to the arena alignment


def candidate_capacity(cfg: dict) -> int:
    """Candidates the device stores; more are counted but not kept (a score threshold keeps a handful).
    ``detection.max_candidates`` in the model's config sets it (the arena grows by one record per candidate)."""
    priors = sum(s[0] * s[1] for s in shapes(cfg).heads)
    return min(int(cfg["detection"].get("max_candidates", 512)), priors)


@dataclass(frozen=True)
class GraphCtx:
    """What a kind's ``step`` sees: the description, its shapes and the tensors of the layers before it."""

    cfg: dict
    shapes: Shapes
    tensors: dict[str, Tensor]


def device_graph(model: Model) -> Graph:
    cfg = model.config
    dt = model.require_quant()["dtypes"]
    sh = shapes(cfg)
    T = {"input": _tensor("input", sh.image, "uint8")}
    g = GraphCtx(cfg, sh, T)
    steps: list[Step] = []
    spare: list[int] = []
    # ``memory.in_place: false`` in the config gives every output its own space, ``memory.separate: [mb1, …]``
    # only those layers' outputs (for debugging a kernel that overwrites its input too early); the arena grows,
    # the results stay the same.
    memory = cfg.get("memory", {})
    overlap, separate = memory.get("in_place", True), set(memory.get("separate", ()))
    for layer in network(cfg, device=True):
        d = kind(layer.kind).step(layer, g)
        T[layer.name] = _tensor(layer.name, d.shape, d.dtype or dt[layer.name])
        own = not overlap or layer.name in separate
        steps.append(Step(layer.name, layer.kind, layer.inputs, layer.name, int(d.scratch), int(d.macs),
                          None if own else d.in_place, layer))
        spare.append(int(d.spare))
    return _grant_spare(Graph(T, tuple(steps), candidate_capacity(cfg)), spare)


def _grant_spare(g: Graph, spare: list[int]) -> Graph:
    """Each step's spare scratch (``DeviceStep.spare``), in order, where the planned arena stays as it is without
    any: speed from RAM that is idle at that step anyway, never RAM for speed."""
    arena = plan(g.buffers()).arena_bytes
    for i, extra in enumerate(spare):
        if extra:
            steps = list(g.steps)
            steps[i] = replace(steps[i], scratch=steps[i].scratch + extra, spare=extra)
            trial = Graph(g.tensors, tuple(steps), g.max_candidates)
            if plan(trial.buffers()).arena_bytes <= arena:
                g = trial
    return g
