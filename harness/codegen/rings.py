"""Row streaming's memory: every tensor as a ring of rows instead of a whole feature map (docs/streaming.md).

Rows arrive one at a time (the upload decodes them in order); after each, every layer computes each output row whose
input rows exist (``LayerKind.rows``: the rows an output row reads), in schedule order, until none can. A tensor's
ring must hold every row produced and still to be read by a consumer: the most such rows at any moment is its ring
size. Layers that stream keep their scratch between rows (the fused MBConv's rings, RNNPool's shared RNN1 sequences),
so all of it is alive at once, and a sink (the candidates) keeps its whole output. Their sum is the floor of a
streamed arena: no schedule that computes each row once needs less with these kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.codegen.generate import ARENA_ALIGNMENT
from harness.codegen.graph import Graph
from harness.codegen.plan import Buffer, plan
from harness.errors import CodegenError
from harness.model.layers import kind


@dataclass(frozen=True)
class Ring:
    tensor: str
    rows: int        # the most rows alive at once
    height: int      # the whole tensor's rows
    row_bytes: int

    @property
    def bytes(self) -> int:
        return self.rows * self.row_bytes


@dataclass(frozen=True)
class StreamPlan:
    rings: tuple[Ring, ...]
    state: tuple[tuple[str, int], ...]         # (what, bytes) kept whole while rows stream: scratch, sink outputs
    order: tuple[tuple[int, str, int], ...]    # (input rows in, layer, output row), in the order they run

    @property
    def floor(self) -> int:
        return sum(r.bytes for r in self.rings) + sum(b for _, b in self.state)

    def after_row(self, arrived: int) -> list[tuple[str, int]]:
        """The (layer, output row) computed once ``arrived`` input rows are in."""
        return [(name, y) for n, name, y in self.order if n == arrived]


def plan_rings(graph: Graph, upload_scratch: int = 0, streamed: int | None = None) -> StreamPlan:
    """The eager row schedule of ``graph`` and each tensor's ring; ``upload_scratch``: the upload's own bytes.
    ``streamed``: only the first that many layers stream; a tensor a later layer reads is kept whole (their rings
    are then the whole tensors, and those layers run afterwards, one at a time: ``hybrid_arena``)."""
    graph = graph.without_spare()  # the spare scratch is granted for the layer-by-layer schedule only
    t = graph.tensors
    steps = graph.steps[:streamed]
    windows = {}
    for s in steps:
        rows = kind(s.kind).rows
        if rows is None:
            raise CodegenError(f"layer {s.name} ({s.kind}) cannot stream: its kind gives no row window")
        windows[s.name] = rows(s.layer)
    height = {name: tensor.shape[0] for name, tensor in t.items()}
    made = {"input"} | {s.output for s in steps}
    produced = {name: 0 for name in made}
    done = {s.name: 0 for s in steps}
    consumed = {s.name: {i: 0 for i in s.inputs} for s in steps if windows[s.name].sink}
    readers = {name: [s for s in steps if name in s.inputs] for name in made}
    kept = {name for name in made if any(name in s.inputs for s in graph.steps[len(steps):])}
    peak = {name: 0 for name in made}
    order = []

    def oldest_needed(name: str) -> int:
        if name in kept:
            return 0
        first = produced[name]
        for s in readers[name]:
            w = windows[s.name]
            if w.sink:
                first = min(first, consumed[s.name][name])
            elif done[s.name] < height[s.output]:
                first = min(first, w.needs(done[s.name], height[name])[0])
        return first

    def note(name: str) -> None:
        peak[name] = max(peak[name], produced[name] - oldest_needed(name))

    def ready(s) -> bool:
        w = windows[s.name]
        return done[s.name] < height[s.output] and all(
            produced[i] > w.needs(done[s.name], height[i])[1] for i in s.inputs)

    for arrived in range(1, height["input"] + 1):
        produced["input"] = arrived
        note("input")
        progress = True
        while progress:
            progress = False
            for s in steps:
                if windows[s.name].sink:
                    for i in s.inputs:
                        consumed[s.name][i] = produced[i]
                    continue
                if ready(s):  # one row per layer per sweep: consumers keep up, rings stay short
                    y = done[s.name]
                    done[s.name] += 1
                    produced[s.output] += 1
                    order.append((arrived, s.name, y))
                    note(s.output)
                    progress = True
    unfinished = [s.name for s in steps if not windows[s.name].sink and done[s.name] < height[s.output]]
    if unfinished:  # a window that reads past its input's last row: a kind's RowWindow is wrong
        raise CodegenError(f"row streaming never finishes {', '.join(unfinished)}")
    sinks = {s.output for s in steps if windows[s.name].sink}
    rings = tuple(Ring(name, peak[name], height[name], t[name].nbytes // height[name])
                  for name in t if name in made and name not in sinks)
    state = [(f"{s.name}.scratch", s.scratch) for s in steps if s.scratch]
    state += [(name, t[name].nbytes) for name in sinks]
    if upload_scratch:
        state.append(("upload", upload_scratch))
    return StreamPlan(rings, tuple(state), tuple(order))


def hybrid_arena(graph: Graph, streamed: int, upload_scratch: int = 0) -> int:
    """The arena when the first ``streamed`` layers stream and the rest run one at a time as today: the larger of
    the streamed part's rings and state and the layer-by-layer plan of the rest (harness/codegen/plan.py), whose
    inputs from the streamed part exist whole from its first step on."""
    graph = graph.without_spare()
    front = plan_rings(graph, upload_scratch, streamed).floor if streamed else 0
    if streamed >= len(graph.steps):
        return front
    start = streamed + 1  # graph.buffers() numbers layer i as step i + 1 (step 0: the upload)
    rest = [Buffer(b.name, b.size, max(b.first, start), b.last, b.group, b.rel)
            for b in graph.buffers(stream=False) if b.last >= start and b.name != "upload"]
    if not streamed:
        rest.append(Buffer("upload", upload_scratch, 0, 0))
        rest = [Buffer(b.name, b.size, 0 if b.name == "input" else b.first, b.last, b.group, b.rel) for b in rest]
    return max(front, plan(rest, ARENA_ALIGNMENT).arena_bytes)
