"""Instruction count of ``rp_rnnpool_s8`` on QEMU's STM32F405 (``-icount shift=0``: one TIM2 tick per
instruction), DSP and portable builds, each output checked by CRC-32 against the NumPy reference
(``fixed_ref.rnnpool_q`` + replicate padding).

``model_cases`` are the default model's RNNPool on the stem output of a fixture scene at 320x240 (stem 120x160x4,
hidden 16/16, patch 8, stride 4), with the exact and the hard nonlinearities. ``edge_cases`` are small random
layers that reach the other branches: zeta/nu that are not (16384, 0), an odd channel count, hidden sizes that
are not multiples of 4, parameters outside the fast path's ranges (its scratch, rp_rnnpool_s8_get_buffer_size,
always has room for it).

    .venv/bin/python bench/rnnpool_instructions.py [--build dsp|portable|both] [--edge]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from harness.codegen.carray import c_array  # noqa: E402
from harness.model import ops  # noqa: E402
from harness.model.fixed_ref import _p, rnnpool_q, run_fixed  # noqa: E402
from harness.model.kinds.rnnpool import (TANH_PAD, cell_gates, fastgrnn_cell_fast, rnnpool_fast_bytes,  # noqa: E402
                                         rnnpool_scratch)
from harness.model.modelfile import load  # noqa: E402
from harness.targets.qemu import run_probe  # noqa: E402

MODEL = ROOT / "fixtures" / "models" / "default.npz"
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"


@dataclass(frozen=True)
class Case:
    name: str
    x: np.ndarray                  # stem output, HWC int8
    q1: dict                       # rnn1 arrays (w, x_shift, mult, shift, bg, bh, zeta, nu)
    q2: dict
    patch: int
    stride: int
    hard: bool
    out_mult: int
    out_shift: int
    scratch: int | None = None     # bytes given to the kernel; None: rp_rnnpool_s8_get_buffer_size's figure
    # RP_NN_GRNN16_GATES where a cell takes them: its "own" shift, an "other" (unused), or the one-index gates
    # whatever the biases ("one": unused unless they suit)
    gates: str = "own"

    @property
    def expected(self) -> np.ndarray:
        return ops.replicate_pad_br(rnnpool_q(self.x, self.q1, self.q2, self.patch, self.stride, self.hard,
                                              self.out_mult, self.out_shift)).astype(np.int8)


def model_cases() -> list[Case]:
    """The default model's RNNPool on its own stem output at 320x240, exact and hard."""
    model = load(MODEL)
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    a, rp = model.arrays, model.config["rnnpool"]
    stem = run_fixed(model, image).layers["stem"].astype(np.int8)
    r = _p(a, "rnnpool")
    return [Case(name, stem, _p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], hard, int(r["out_mult"]),
                 int(r["out_shift"])) for name, hard in (("rnnpool", False), ("rnnpool_hard", True))]


def _grnn(rng, n_in: int, n_h: int, xs: int, **kw) -> dict:
    """Random FastGRNN arrays whose int32 accumulator cannot overflow (numerics §9), ``kw`` overriding any."""
    wmax = min(32767, (2**31 - 1) // ((n_in + n_h) * 32768))
    q = {"w": rng.integers(-wmax, wmax + 1, (n_h, n_in + n_h)).astype(np.int16), "x_shift": np.int32(xs),
         "bg": rng.integers(-30_000, 30_000, n_h).astype(np.int32),
         "bh": rng.integers(-30_000, 30_000, n_h).astype(np.int32),
         "mult": np.int32(rng.integers(1 << 30, 1 << 31)), "shift": np.int32(-12), "zeta": np.int32(16384),
         "nu": np.int32(0)}
    for k, v in kw.items():
        q[k] = np.asarray(v, q[k].dtype)
        if q[k].ndim:
            q[k] = np.resize(q[k], n_h)
    return q


def fast_path(cs: Case, pad: int = 0) -> bool:
    """Whether rp_rnnpool_s8 takes its fast path for ``cs`` (a mirror of rp_nn_fastgrnn_prepare's checks and of
    the scratch layout, for the tests' coverage; ``pad``: bytes to the scratch's first 4-byte boundary, at most 2 for
    the 2-byte alignment rp_rnnpool_s8 asks)."""
    h, w, c = cs.x.shape
    h1, h2 = cs.q1["w"].shape[0], cs.q2["w"].shape[0]
    cfg = {"rnnpool": {"patch": cs.patch, "stride": cs.stride, "hidden1": h1, "hidden2": h2}}
    grid = ((h - cs.patch) // cs.stride + 1, (w - cs.patch) // cs.stride + 1)
    size = cs.scratch if cs.scratch is not None else rnnpool_scratch(cfg, cs.x.shape, grid)
    budget = size - grid[1] * 4 * h2  # the output row's buffer sits at the end

    def cell_ok(q, n_in, pixel):
        return fastgrnn_cell_fast(n_in, q["w"].shape[0], int(q["shift"]), int(q["x_shift"]),
                                  np.concatenate([q["bg"], q["bh"]]), pixel, cs.hard)

    return (cell_ok(cs.q1, c, True) and cell_ok(cs.q2, h1, False)
            and pad + rnnpool_fast_bytes(cfg, c, grid[1]) <= budget)


def edge_cases(seed: int = 11) -> list[Case]:
    """Small random layers for the branches the default model does not take (bit-exactness only): zeta/nu other
    than (16384, 0), odd channel counts and x_shift != 8, other patch sizes and hidden sizes, the extreme
    requantisation shifts and biases of the fast path, and layers it refuses (the generic path)."""
    rng = np.random.default_rng(seed)

    def stem(h, w, c):
        x = rng.integers(-128, 128, (h, w, c))
        x.flat[: x.size // 6] = rng.choice([-128, 0, 127], x.size // 6)
        return x.astype(np.int8)

    # The fast path's extreme biases at shift -12 (s = 11): kg = 2^10 + b 2^11 (hard) or 2^10 + (b + 64) 2^11 (exact)
    # reaches +-(2^30 - 2^10), and one further step of b leaves the fast path (rp_nn_fastgrnn_prepare).
    big, big_x = np.array([524_287, -524_288], np.int32), np.array([524_223, -524_352], np.int32)
    over_x, under_x = np.array([524_224], np.int32), np.array([-524_353], np.int32)
    # s = 24, the exact fast path's largest: |2^23 + (b + 64) 2^24| < 2^30 leaves b in [-128, -1]
    small = {"shift": -25, "bg": [-64, -1, -128, -90], "bh": [-30, -64, -100, -2]}
    # Gate biases on the tables' grid (the quantiser's): the one-index gates, with bg - bh = 128 d up to the tanh
    # table's padding either way (RP_NN_TANH_PAD), and once a step beyond it.
    d = np.resize([TANH_PAD, -TANH_PAD, 0, 1, -1, 77, -100, 3], 16)
    b = rng.integers(-300, 300, 16) * 128
    grid = {"bg": b + 64 * d, "bh": b - 64 * d}
    off_pad = {"bg": b + 128 * np.where(d == TANH_PAD, TANH_PAD + 1, d), "bh": b}
    cases = []
    for i, (shape, h1, h2, patch, stride, hard, k1, k2) in enumerate([
        ((11, 53, 3), 12, 8, 5, 3, False, {"zeta": 9000, "nu": 2000}, {"zeta": 300, "nu": 16000}),
        ((11, 53, 3), 12, 8, 5, 3, True, {"zeta": 16384, "nu": 16384}, {"zeta": 16384, "nu": 16384}),
        ((16, 100, 4), 16, 16, 8, 4, False, {"zeta": 0, "nu": 16384}, {"zeta": 12345, "nu": 1}),
        ((16, 100, 4), 16, 16, 8, 4, True, {}, {"shift": -31, "bg": [0, -1], "bh": [-1, 0]}),  # kg, kh = +-2^29
        ((17, 108, 5), 16, 16, 8, 8, False, {"shift": -2}, {"shift": -2}),
        ((12, 100, 8), 16, 16, 8, 4, False, {"x_shift": 7}, {"bg": big_x, "bh": big_x[::-1]}),
        ((12, 100, 4), 16, 16, 8, 4, True, {"x_shift": 0, "bh": big}, {"bg": big[::-1]}),
        ((9, 120, 4), 16, 16, 8, 4, False, {}, {}),                    # gates compiled for another shift: unused
        ((5, 30, 2), 4, 4, 1, 1, False, {"zeta": 16384, "nu": 100}, {}),
        ((9, 120, 4), 16, 16, 8, 4, False, {"bg": big_x, "bh": big_x[::-1]}, {"bh": big_x}),  # the assembly, extreme
        ((9, 120, 4), 16, 16, 8, 4, False, small, small),          # the largest gate shift, 31
        ((13, 30, 4), 16, 16, 8, 4, False, {"shift": -1}, {}),    # generic path from here on (but edge14)
        ((13, 30, 4), 16, 16, 8, 4, True, {}, {"shift": 3}),
        ((13, 30, 2), 6, 10, 4, 2, False, {}, {}),
        ((12, 20, 4), 16, 16, 8, 4, False, {}, {}),  # narrow: once too little scratch, now the fast path
        ((12, 100, 4), 16, 16, 8, 4, True, {"bh": np.array([-(1 << 31)], np.int32)}, {}),
        ((12, 100, 4), 16, 16, 8, 4, False, {"bg": over_x}, {}),
        ((12, 100, 4), 16, 16, 8, 4, False, {}, {"bh": under_x}),
        ((9, 30, 4), 16, 16, 8, 4, False, {"shift": -26}, {}),               # exact: gate shift 32
        ((6, 70, 4), 16, 16, 1, 1, False, {}, {}),   # the compiled sequences (RP_NN_GRNN16_GATES) of one step
        ((11, 85, 4), 16, 16, 5, 2, False, {}, {}),  # and of an odd patch
        ((9, 120, 4), 16, 16, 8, 4, False, grid, grid),  # one table index, bg - bh at the tanh table's padding
        ((9, 120, 4), 16, 16, 8, 4, False, off_pad, grid),      # RNN1 one step beyond it: two indices
        ((9, 120, 4), 16, 16, 8, 4, False, {}, {}),   # the one-index gates compiled for off-grid biases: unused
    ]):
        q1 = _grnn(rng, shape[2], h1, 8, **k1)
        q2 = _grnn(rng, h1, h2, 0, **k2)
        cases.append(Case(f"edge{i}", stem(*shape), q1, q2, patch, stride, hard, int(rng.integers(1 << 30, 1 << 31)),
                          int(rng.integers(-9, -3)), gates={7: "other", 23: "one"}.get(i, "own")))
    return cases


MAIN = r"""
#include "internal/rp_nn_rnn.h"
#include "rp_kernels.h"
#include "rp_probe.h"

%(arrays)s
static int8_t out[%(out_bytes)d];
static int32_t scratch[%(scratch_words)d];



int main(void) {
    uint32_t t0, t1;
    rp_ticks_start();
%(body)s
    return 0;
}
"""

BODY = """    {
        const rp_fastgrnn_params r1 = {%(c)d, %(h1)d, %(n)s_w1, %(xs1)d, %(mult1)d, %(shift1)d, %(n)s_bg1, %(n)s_bh1,
                                       %(zeta1)d, %(nu1)d, %(hard)d, %(gates1)s};
        const rp_fastgrnn_params r2 = {%(h1)d, %(h2)d, %(n)s_w2, %(xs2)d, %(mult2)d, %(shift2)d, %(n)s_bg2, %(n)s_bh2,
                                       %(zeta2)d, %(nu2)d, %(hard)d, %(gates2)s};
        const rp_rnnpool_params p = {%(patch)d, %(stride)d, &r1, &r2, %(out_mult)d, %(out_shift)d};
        const rp_dims in_dims = {%(h)d, %(w)d, %(c)d}, out_dims = {%(oh)d, %(ow)d, %(oc)d};
        int32_t size = %(scratch)s;
        if (size > (int32_t)sizeof scratch) return 4;
        const rp_context ctx = {scratch, size};
        t0 = rp_ticks();
        if (rp_rnnpool_s8(&ctx, &p, &in_dims, %(n)s_x, &out_dims, out) != RP_OK) return 2;
        t1 = rp_ticks();
        rp_probe_put("%(n)s", "_crc ", rp_probe_crc32(out, %(out_size)d), 1);
        rp_probe_put("%(n)s", "_instructions ", t1 - t0, 0);
    }
"""


def program(cases: list[Case]) -> tuple[str, dict[str, int]]:
    """The C program timing every case, and the CRC-32 each must print."""
    arrays, body, expected = [], [], {}
    for cs in cases:
        n = cs.name
        arrays += [c_array(f"{n}_x", cs.x), c_array(f"{n}_w1", cs.q1["w"]), c_array(f"{n}_bg1", cs.q1["bg"]),
                   c_array(f"{n}_bh1", cs.q1["bh"]), c_array(f"{n}_w2", cs.q2["w"]),
                   c_array(f"{n}_bg2", cs.q2["bg"]), c_array(f"{n}_bh2", cs.q2["bh"])]
        want = cs.expected
        expected[n] = zlib.crc32(want.tobytes())
        v = {"n": n, "h": cs.x.shape[0], "w": cs.x.shape[1], "c": cs.x.shape[2], "h1": cs.q1["w"].shape[0],
             "h2": cs.q2["w"].shape[0], "hard": int(cs.hard), "patch": cs.patch, "stride": cs.stride,
             "out_mult": cs.out_mult, "out_shift": cs.out_shift, "oh": want.shape[0], "ow": want.shape[1],
             "oc": want.shape[2], "out_size": want.size,
             "scratch": str(cs.scratch) if cs.scratch is not None else "rp_rnnpool_s8_get_buffer_size(&p, &in_dims)"}
        for tag, q in (("1", cs.q1), ("2", cs.q2)):
            v.update({f"{k}{tag}": int(q[key]) for k, key in (("xs", "x_shift"), ("mult", "mult"), ("shift", "shift"),
                                                              ("zeta", "zeta"), ("nu", "nu"))})
            v[f"gates{tag}"] = "0"
            if (own := cell_gates(q, cs.hard)) is not None:  # the code generator's choice, or a wrong one
                s7, one = own
                compiled = s7 if cs.gates != "other" else s7 + 1 if s7 < 31 else s7 - 1
                one = 1 if cs.gates == "one" else one
                arrays.append(f"RP_NN_GRNN16_GATES({n}_g{tag}, {compiled}, {one})\n")
                v[f"gates{tag}"] = f"&{n}_g{tag}"
        body.append(BODY % v)
    out_bytes = max(cs.expected.size for cs in cases)
    source = MAIN % {"arrays": "".join(arrays), "body": "".join(body), "out_bytes": out_bytes,
                     "scratch_words": 40_960 // 4}
    return source, expected


def measure(cases: list[Case], dsp: bool, workdir: Path) -> dict[str, tuple[bool, int]]:
    """name -> (CRC matches the reference, instructions) on QEMU, for the DSP or the portable build."""
    source, expected = program(cases)
    got = run_probe(source, workdir, dsp)
    return {cs.name: (got[f"{cs.name}_crc"] == expected[cs.name], got[f"{cs.name}_instructions"]) for cs in cases}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", choices=("dsp", "portable", "both"), default="both")
    ap.add_argument("--edge", action="store_true", help="also run the small edge cases (bit-exactness)")
    args = ap.parse_args(argv)
    cases = model_cases() + (edge_cases() if args.edge else [])
    builds = {"dsp": [True], "portable": [False], "both": [True, False]}[args.build]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for dsp in builds:
            for name, (match, count) in measure(cases, dsp, Path(tmp)).items():
                ok &= match
                path = "fast" if fast_path(next(cs for cs in cases if cs.name == name), 2) else "generic"
                print(f"{'dsp' if dsp else 'portable':9s} {name:14s} {count:>12,d} instructions  "
                      f"{'bit-exact' if match else 'MISMATCH'}  ({path} path)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
