"""The device's view of a quantised model: the layers it runs, in the order it runs them, with every tensor's
shape and type, each layer's scratch and multiply-accumulate count, and the buffers' lifetimes for the planner.

The firmware runs each head right after the block it reads (its buffers then die early) and fuses every MBConv
block; every layer is a pure function of its inputs (numerics §3), so this order computes the reference's values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.model.archs import shapes
from harness.model.modelfile import Model
from harness.codegen.plan import Buffer

ITEM = {"uint8": 1, "int8": 1, "int16": 2}
CANDIDATE_BYTES = 14  # rp_candidate: uint16 prior, int16 bg, face, loc[4]


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, int, int]   # HWC
    dtype: str                    # "uint8", "int8", "int16" or "candidate"
    nbytes: int


@dataclass(frozen=True)
class Step:
    name: str          # the layer name the reference uses (fingerprints are keyed by it)
    kind: str          # stem, rnnpool, mbconv, l2norm, conv_s16, candidates
    inputs: tuple[str, ...]
    output: str
    scratch: int       # bytes of kernel scratch in the arena
    macs: int          # multiply-accumulates (as the kernel performs them)
    in_place: int | None = None  # the kernel may write its output this many bytes from its input's start


@dataclass(frozen=True)
class Graph:
    tensors: dict[str, Tensor]
    steps: tuple[Step, ...]
    max_candidates: int

    def buffers(self) -> list[Buffer]:
        """Every arena buffer with its lifetime in steps; the input exists before step 0 and the candidates (the
        run's result) live to the end."""
        first, last = {}, {}
        end = len(self.steps) - 1
        for i, s in enumerate(self.steps):
            for t in s.inputs:
                last[t] = i
            first.setdefault(s.output, i)
            last.setdefault(s.output, i)
        first["input"] = 0
        last["candidates"] = end
        # in place where the kernel allows it and its input dies at that step: chains of ties form groups
        group, rel = {}, {}
        for i, s in enumerate(self.steps):
            src = s.inputs[0] if s.inputs else None
            if s.in_place is not None and last.get(src) == i:
                group[s.output] = group.setdefault(src, src)
                rel.setdefault(src, 0)
                rel[s.output] = rel[src] + s.in_place
        bufs = [Buffer(t.name, t.nbytes, first[t.name], last[t.name], group.get(t.name, ""), rel.get(t.name, 0))
                for t in self.tensors.values()]
        bufs += [Buffer(f"{s.name}.scratch", s.scratch, i, i) for i, s in enumerate(self.steps) if s.scratch]
        return bufs


def _tensor(name: str, shape, dtype: str) -> Tensor:
    h, w, c = (int(v) for v in shape)
    return Tensor(name, (h, w, c), dtype, h * w * c * ITEM[dtype])


def rnnpool_macs(cfg: dict, stem: tuple[int, int, int], grid: tuple[int, int]) -> int:
    """RNN1 runs each shared row and column sequence once (numerics §4); RNN2 four 8-step passes per patch."""
    rp = cfg["rnnpool"]
    h1, h2, patch = rp["hidden1"], rp["hidden2"], rp["patch"]
    rnn1 = (stem[0] * grid[1] + stem[1] * grid[0]) * patch * h1 * (stem[2] + h1)
    rnn2 = grid[0] * grid[1] * 4 * patch * h2 * (h1 + h2)
    return rnn1 + rnn2


def rnnpool_scratch(cfg: dict, stem: tuple[int, int, int], grid: tuple[int, int]) -> int:
    """rp_rnnpool_s8_get_buffer_size for these shapes (checked against the C function in the host tests)."""
    rp = cfg["rnnpool"]
    used_w = (grid[1] - 1) * rp["stride"] + rp["patch"]
    return (rp["patch"] * grid[1] + used_w) * rp["hidden1"] * 2 + grid[1] * 4 * rp["hidden2"]


def mbconv_scratch(w: int, hidden: int, stride: int) -> int:
    """rp_mbconv_s8_get_buffer_size without the residual's row: a ring of 3 expanded rows plus one depthwise
    output row."""
    return (3 * w + (w - 1) // stride + 1) * hidden


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


def device_graph(model: Model) -> Graph:
    cfg = model.config
    dt = model.require_quant()["dtypes"]
    sh = shapes(cfg)
    T: dict[str, Tensor] = {}
    steps: list[Step] = []
    # ``memory.in_place: false`` in the config gives every output its own space, ``memory.separate: [mb1, …]``
    # only those layers' outputs (for debugging a kernel that overwrites its input too early); the arena grows,
    # the results stay the same.
    memory = cfg.get("memory", {})
    overlap, separate = memory.get("in_place", True), set(memory.get("separate", ()))

    def add(name, kind, inputs, shape, dtype, scratch=0, macs=0, in_place=None):
        T[name] = _tensor(name, shape, dtype)
        own = not overlap or name in separate
        steps.append(Step(name, kind, tuple(inputs), name, scratch, int(macs), None if own else in_place))

    T["input"] = _tensor("input", sh.image, "uint8")
    st = cfg["stem"]
    add("stem", "stem", ["input"], sh.stem, dt["stem"], macs=np.prod(sh.stem) * st["kernel"] ** 2 * sh.image[2],
        in_place=conv_in_place(sh.image, sh.stem, st["kernel"], st["stride"]))
    pooled_row, released = sh.rnnpool[1] * sh.rnnpool[2], cfg["rnnpool"]["stride"] * sh.stem[1] * sh.stem[2]
    add("rnnpool", "rnnpool", ["stem"], sh.rnnpool, dt["rnnpool"], rnnpool_scratch(cfg, sh.stem, sh.patches),
        rnnpool_macs(cfg, sh.stem, sh.patches), 0 if pooled_row <= released else None)
    heads_of = {}
    for j, hd in enumerate(cfg["heads"]):
        heads_of.setdefault(hd["block"], []).append(j)
    x, xs = "rnnpool", sh.rnnpool
    for i, blk in enumerate(cfg["blocks"]):
        out = sh.blocks[i]
        hid = blk["hidden"]
        macs = xs[0] * xs[1] * hid * xs[2] + out[0] * out[1] * hid * (9 + out[2])
        scratch = mbconv_scratch(xs[1], hid, blk["stride"]) + (out[1] * out[2] if blk["residual"] else 0)
        fits = out[1] * out[2] <= blk["stride"] * xs[1] * xs[2]
        add(f"mb{i}", "mbconv", [x], out, dt[f"mb{i}"], scratch, macs, 0 if fits else None)
        for j in heads_of.get(i, []):
            src = f"mb{i}"
            if cfg["heads"][j]["l2norm"] is not None:
                add(f"l2norm{j}", "l2norm", [src], out, dt[f"l2norm{j}"], macs=np.prod(out))
                src = f"l2norm{j}"
            for part, n in (("conf", cfg["heads"][j]["conf"]), ("loc", 4)):
                add(f"head{j}.{part}", "conv_s16", [src], (out[0], out[1], n), dt[f"head{j}.{part}"],
                    macs=out[0] * out[1] * n * 9 * out[2])
        x, xs = f"mb{i}", out
    cap = candidate_capacity(cfg)
    heads = [f"head{j}.{p}" for j in range(len(cfg["heads"])) for p in ("conf", "loc")]
    T["candidates"] = Tensor("candidates", (1, cap, 1), "candidate", cap * CANDIDATE_BYTES)
    steps.append(Step("candidates", "candidates", tuple(heads), "candidates", 0, 0))
    return Graph(T, tuple(steps), cap)
