"""Static memory planning: buffers with lifetimes → offsets in one arena.

Algorithm (greedy by size, as TFLM's GreedyMemoryPlanner): take buffers largest first (ties: earliest first use,
then name); put each at the lowest offset, aligned, where it overlaps no already placed buffer that is alive at the
same time. Not optimal in general, but deterministic and good for a straight-line schedule whose peak is set by
a few large tensors. ``overlaps`` is the independent checker the tests use.

**In place.** A kernel that may write its output over its dying input (at a stated byte offset relative to it)
ties the two into a *group*: members keep fixed offsets relative to each other (``Buffer.rel``) and the group is
placed as one unit, each member checked against the buffers alive with *it*, so the dead parts of a group are
free for others. Members of one group may overlap only where one's life ends as the next one's begins.
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
    group: str = ""  # buffers sharing a non-empty group are placed together ...
    rel: int = 0     # ... at these offsets relative to each other


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


def _handover(a: Buffer, b: Buffer) -> bool:
    """Same group and one's last step is the other's first: an in-place kernel's input and output."""
    return bool(a.group) and a.group == b.group and (a.last == b.first or b.last == a.first)


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _units(buffers: list[Buffer], alignment: int) -> list[list[Buffer]]:
    groups: dict[str, list[Buffer]] = {}
    units = []
    for b in buffers:
        if b.group:
            groups.setdefault(b.group, []).append(b)
        else:
            units.append([b])
    for name, members in groups.items():
        if any(m.rel % alignment for m in members):
            raise CodegenError(f"group {name}: relative offsets must be multiples of {alignment}")
        low = min(m.rel for m in members)
        units.append([Buffer(m.name, m.size, m.first, m.last, m.group, m.rel - low) for m in members])
    return units


def _fits(unit: list[Buffer], base: int, placed: list[Placement]) -> bool:
    for m in unit:
        start, end = base + m.rel, base + m.rel + m.size
        for p in placed:
            if (m.size and p.buffer.size and _alive_together(m, p.buffer) and start < p.end and p.offset < end):
                return False
    return True


def plan(buffers: list[Buffer], alignment: int = 4) -> MemoryPlan:
    names = [b.name for b in buffers]
    if len(set(names)) != len(names):
        raise CodegenError(f"buffer names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    for b in buffers:
        if b.size < 0 or b.first < 0 or b.last < b.first:
            raise CodegenError(f"buffer {b.name}: size {b.size}, lifetime {b.first}..{b.last} is not valid")
    placed: list[Placement] = []
    units = _units(buffers, alignment)
    extent = {id(u): max(m.rel + m.size for m in u) for u in units}
    for unit in sorted(units, key=lambda u: (-extent[id(u)], min(m.first for m in u), min(m.name for m in u))):
        # the lowest feasible base is 0 or puts some member right after some placed buffer
        bases = sorted({0} | {_align(max(0, p.end - m.rel), alignment) for p in placed for m in unit})
        base = next(b for b in bases if _fits(unit, b, placed))
        placed += [Placement(m, base + m.rel) for m in unit]
    order = {n: i for i, n in enumerate(names)}
    placed.sort(key=lambda p: order[p.buffer.name])
    arena = _align(max((p.end for p in placed), default=0), alignment)
    return MemoryPlan(tuple(placed), arena, alignment)


def overlaps(mp: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of buffers alive at the same time whose byte ranges intersect (empty for a valid plan); an in-place
    kernel's input and output (same group, handing over at one step) may intersect."""
    bad = []
    ps = mp.placements
    for i, a in enumerate(ps):
        for b in ps[i + 1:]:
            if (_alive_together(a.buffer, b.buffer) and a.buffer.size and b.buffer.size
                    and a.offset < b.end and b.offset < a.end and not _handover(a.buffer, b.buffer)):
                bad.append((a.buffer.name, b.buffer.name))
    return bad


def lower_bound(buffers: list[Buffer]) -> int:
    """The most bytes alive at any one step, counting the bytes an in-place handover shares once (where the
    kernel's fixed relative offsets make input and output overlap): no plan can use less."""
    if not buffers:
        return 0
    best = 0
    for s in range(min(b.first for b in buffers), max(b.last for b in buffers) + 1):
        alive = [b for b in buffers if b.first <= s <= b.last]
        total = sum(b.size for b in alive)
        for a in alive:  # a handover at s: input (last == s) and output (first == s) share bytes
            for b in alive:
                if a is not b and _handover(a, b) and a.last == s == b.first:
                    total -= max(0, min(a.rel + a.size, b.rel + b.size) - max(a.rel, b.rel))
        best = max(best, total)
    return best
