"""The least arena any schedule of a graph can have when every value is computed once, in raster order
(docs/streaming.md): the floor issue 18's 64 KB is measured against, for any kernels, not only this firmware's.

Raster order is the order the image arrives and the fingerprints run (row by row, left to right); computing each
value once is the instruction budget (recomputing is what costs instructions). Then a layer whose output pixel reads
a window of its input (``LayerKind.rows``) holds at least the input pixels from the oldest its window still reads to
the newest it has read (``RowWindow.pixels``: a line buffer), a fused block also what it makes inside
(``LayerKind.carry``: the MBConv's expanded line buffer), a sink its whole output (the candidates) and the upload
its ring. A tensor's window is the largest of its readers'.

A pipeline of every layer holds all of that at once. Any schedule splits the layers into parts run one after
another (each closed under the layers that make its inputs, streamed within itself); a tensor crossing from one part
into a later one is whole while the parts between run. The floor is the least, over every such split, of its
largest part: the whole graph's pipeline is the split into one part. Counted as zero: every kernel temporary
(accumulators, widened rows, RNN states, the stack). What the floor leaves of a budget is what they may use.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.codegen.graph import Graph, Step
from harness.errors import CodegenError
from harness.model.layers import kind


@dataclass(frozen=True)
class Part:
    steps: tuple[str, ...]                  # the layers run (streamed together) before any other starts
    windows: tuple[tuple[str, int], ...]    # tensor → the bytes its readers in the part hold
    carries: tuple[tuple[str, int], ...]    # layer → what it keeps inside between pixels
    whole: tuple[tuple[str, int], ...]      # tensors whole throughout: made before and read after, a sink's output
    consumed: tuple[tuple[str, int], ...]   # whole tensors made before that the part reads for the last time
    produced: tuple[tuple[str, int], ...]   # tensors the part makes whole for a later part
    upload: int

    @property
    def bytes(self) -> int:
        """At its start the part holds the tensors it consumes, at its end those it produces (pixels of the one
        free as the other's are made: in place), throughout the rest."""
        ends = max(sum(b for _, b in self.consumed), sum(b for _, b in self.produced))
        return sum(b for _, b in self.windows + self.carries + self.whole) + ends + self.upload


@dataclass(frozen=True)
class Floor:
    pipeline: Part            # every layer streamed together
    parts: tuple[Part, ...]   # the split whose largest part is least (the pipeline when nothing beats it)
    splits: int               # sets of layers a part could end at (closed under inputs), compared

    @property
    def bytes(self) -> int:
        return max(p.bytes for p in self.parts)


def _window(s: Step, tensor, unit: str) -> int:
    h, w, _ = tensor.shape
    rows = kind(s.kind).rows
    if rows is None:
        raise CodegenError(f"layer {s.name} ({s.kind}) gives no row window: no raster-order floor")
    return rows(s.layer).pixels(w, unit) * tensor.nbytes // (h * w)


def _carry(s: Step, src, unit: str) -> int:
    window, width, pixel_bytes = kind(s.kind).carry(s.layer, src)
    return window.pixels(width, unit) * pixel_bytes


def _sink(s: Step) -> bool:
    rows = kind(s.kind).rows
    return bool(rows and rows(s.layer).sink)


def _part(graph: Graph, done: frozenset[str], run: frozenset[str], upload: int, unit: str = "pixel") -> Part:
    """The part that runs the layers ``run`` after those in ``done``. A sink (the candidates) is in no part: it
    takes each pixel of its inputs as it is made, in the part that makes it, and keeps its output from then on."""
    t = graph.tensors
    steps = [s for s in graph.steps if s.name in run]
    made_here = {s.output for s in steps} | ({"input"} if any("input" in s.inputs for s in steps) else set())
    made = made_here | {s.output for s in graph.steps if s.name in done} | {"input"}
    sinks = [s for s in graph.steps if _sink(s)]
    windows: dict[str, int] = {}
    for s in steps + sinks:
        for i in s.inputs:
            if i in made_here:
                windows[i] = max(windows.get(i, 0), _window(s, t[i], unit))
    after = {i for s in graph.steps if s.name not in done | run and not _sink(s) for i in s.inputs}
    into = {i for s in steps for i in s.inputs if i not in made_here}
    kept = {s.output for s in sinks if set(s.inputs) & made}
    whole = sorted({n for n in made - made_here if n in after} | kept)
    consumed = sorted(into - after)
    produced = sorted(n for n in made_here if n in after)
    carries = [(s.name, _carry(s, t[s.inputs[0]].shape, unit)) for s in steps if kind(s.kind).carry]
    size = lambda names: tuple((n, t[n].nbytes) for n in names)  # noqa: E731
    return Part(tuple(s.name for s in steps), tuple((n, b) for n, b in windows.items() if n not in produced),
                tuple(carries), size(whole), size(consumed), size(produced), upload if "input" in made_here else 0)


def _closed_sets(graph: Graph) -> list[frozenset[str]]:
    """Every set of layers closed under the layers that make their inputs, the empty one included."""
    maker = {s.output: s.name for s in graph.steps}
    needs = {s.name: {maker[i] for i in s.inputs if i in maker} for s in graph.steps}
    sets = [frozenset()]
    for s in graph.steps:  # makers come first in the schedule
        if _sink(s):
            continue
        sets += [c | {s.name} for c in sets if needs[s.name] <= c]
    return sets


def raster_floor(graph: Graph, upload: int = 0, unit: str = "pixel") -> Floor:
    """``unit``: "pixel" (kernels working pixel by pixel over line buffers: the least for any kernels) or "row"
    (over rings of whole rows, the pipeline issue 18 describes)."""
    if unit not in ("pixel", "row"):
        raise CodegenError(f"floor unit {unit!r}: use 'pixel' or 'row'")
    graph = graph.without_spare()
    sets = _closed_sets(graph)
    everything = max(sets, key=len)
    best: dict[frozenset[str], tuple[int, tuple[Part, ...]]] = {everything: (0, ())}
    for done in sorted(sets, key=len, reverse=True)[1:]:  # larger sets first: their best splits are known
        options = []
        for nxt in sets:
            if done < nxt:
                part = _part(graph, done, nxt - done, upload, unit)
                rest_peak, rest = best[nxt]
                options.append((max(part.bytes, rest_peak), (part, *rest)))
        best[done] = min(options, key=lambda o: (o[0], len(o[1])))
    return Floor(_part(graph, frozenset(), everything, upload, unit), best[frozenset()][1], len(sets) - 1)
