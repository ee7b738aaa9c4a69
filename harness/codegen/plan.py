"""Static memory planning: buffers with lifetimes → offsets in one arena.

Algorithm (greedy by size, as TFLM's GreedyMemoryPlanner): take buffers largest first (ties: earliest first use,
then name); put each at the lowest offset, aligned, where it overlaps no already placed buffer that is alive at the
same time. Not optimal in general, but deterministic and good for a straight-line schedule whose peak is set by
a few large tensors. ``overlaps`` is the independent checker the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import CodegenError


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int    # bytes
    first: int   # index of the first schedule step that writes or reads it
    last: int    # index of the last step that reads it (inclusive)


@dataclass(frozen=True)
class Placement:
    buffer: Buffer
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.buffer.size


@dataclass(frozen=True)
class MemoryPlan:
    placements: tuple[Placement, ...]
    arena_bytes: int
    alignment: int

    def offset(self, name: str) -> int:
        return next(p.offset for p in self.placements if p.buffer.name == name)


def _alive_together(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def plan(buffers: list[Buffer], alignment: int = 4) -> MemoryPlan:
    names = [b.name for b in buffers]
    if len(set(names)) != len(names):
        raise CodegenError(f"buffer names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    for b in buffers:
        if b.size < 0 or b.first < 0 or b.last < b.first:
            raise CodegenError(f"buffer {b.name}: size {b.size}, lifetime {b.first}..{b.last} is not valid")
    placed: list[Placement] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        busy = sorted((p.offset, p.end) for p in placed if _alive_together(p.buffer, b) and p.buffer.size)
        offset = 0
        for start, end in busy:  # first gap large enough, scanning upward
            if offset + b.size <= start:
                break
            offset = max(offset, _align(end, alignment))
        placed.append(Placement(b, offset))
    order = {n: i for i, n in enumerate(names)}
    placed.sort(key=lambda p: order[p.buffer.name])
    arena = _align(max((p.end for p in placed), default=0), alignment)
    return MemoryPlan(tuple(placed), arena, alignment)


def overlaps(mp: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of buffers alive at the same time whose byte ranges intersect (empty for a valid plan)."""
    bad = []
    ps = mp.placements
    for i, a in enumerate(ps):
        for b in ps[i + 1:]:
            if (_alive_together(a.buffer, b.buffer) and a.buffer.size and b.buffer.size
                    and a.offset < b.end and b.offset < a.end):
                bad.append((a.buffer.name, b.buffer.name))
    return bad


def lower_bound(buffers: list[Buffer]) -> int:
    """The most bytes alive at any one step: no plan can use less."""
    steps = range(min(b.first for b in buffers), max(b.last for b in buffers) + 1) if buffers else range(0)
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)
