"""Instruction counts of the convolution kernels on QEMU's STM32F405 (``-icount shift=0``: one TIM2 tick per
instruction), DSP and portable builds, each output checked by CRC-32 against the NumPy reference.

The six cases are the default model's own layers on a fixture scene at 320x240: ``stem`` (3x3 stride 2 over the
uint8 image, 1 -> 4, 120x160 out), ``mb0.expand`` (1x1, 64 -> 128),
``mb0.project`` (1x1, 128 -> 32), ``mb0.dw`` (3x3 depthwise, 128 channels, stride 1), ``mb2.dw`` (64 channels,
stride 2) and ``head0.conf`` (3x3, 32 -> 4, int16 out), these on 30x40 maps. ``edge_cases`` adds small adversarial
shapes (odd channel counts, extreme values, shifts >= 0, negative multipliers) for the emulator test.

    .venv/bin/python bench/conv_instructions.py [--build dsp|portable|both] [--pointwise-api nn|conv2d]

``--pointwise-api conv2d`` runs the 1x1 cases through ``rp_conv2d_s8`` instead of ``rp_nn_pointwise_s8`` (the only
way to time them on trees that predate the helper).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from harness.codegen.carray import c_array  # noqa: E402
from harness.model import fixed_ref  # noqa: E402
from harness.model.fixed_ref import _p, run_fixed  # noqa: E402
from harness.model.kinds.conv_s16 import conv_ring_bytes  # noqa: E402
from harness.model.modelfile import load  # noqa: E402
from harness.model.qmath import quantize_multipliers  # noqa: E402
from harness.targets.qemu import run_probe  # noqa: E402

MODEL = ROOT / "fixtures" / "models" / "default.npz"
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"


@dataclass(frozen=True)
class Case:
    name: str
    kind: str           # "pointwise", "depthwise", "conv" or "stem" (rp_conv2d_u8_s8)
    x: np.ndarray       # HWC int8 input (stem: uint8)
    w: np.ndarray       # pointwise [O][I]; depthwise [3][3][C]; conv OHWI
    bias: np.ndarray
    mult: np.ndarray
    shift: np.ndarray
    act: tuple[int, int]
    stride: int = 1
    in_offset: int = 0
    ring: int = 0       # int16 conv: rp_conv2d_s8_s16_fast with a scratch of its fast size + ring - 1 (0: without)
    ring_off: int = 0   # that scratch this many bytes past a word

    @property
    def expected(self) -> np.ndarray:
        if self.kind == "pointwise":
            w = self.w.reshape(*self.w.shape, 1, 1).transpose(0, 2, 3, 1)
            return fixed_ref.conv_s8(self.x, w, self.bias, self.mult, self.shift, self.act).astype(np.int8)
        if self.kind == "depthwise":
            out = fixed_ref.depthwise_s8(self.x, self.w, self.bias, self.mult, self.shift, self.act, self.stride)
            return out.astype(np.int8)
        out = fixed_ref.conv_s8(self.x, self.w, self.bias, self.mult, self.shift, self.act, self.stride,
                                self.in_offset)
        return out.astype(np.int16 if self.act[0] < -128 or self.act[1] > 127 else np.int8)

    @property
    def macs(self) -> int:
        out = self.expected
        if self.kind == "pointwise":
            return out.size * self.x.shape[2]
        if self.kind == "depthwise":
            return out.size * 9
        return out.size * self.w[0].size


def model_cases() -> list[Case]:
    """The five benchmark cases: layers of the default model on its own activations."""
    model = load(MODEL)
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    L, a, act = run_fixed(model, image).layers, model.arrays, model.config["quant"]["act"]

    def layer(name, kind, x, stride=1):
        p = _p(a, name)
        w = p["w"].reshape(p["w"].shape[0], -1) if kind == "pointwise" else p["w"]
        return Case(name, kind, x.astype(np.int8), w.astype(np.int8), p["bias"].astype(np.int32),
                    p["mult"].astype(np.int32), p["shift"].astype(np.int32), tuple(act[name]), stride)

    p = _p(a, "stem")
    stem = Case("stem", "stem", image[..., None].astype(np.uint8), p["w"].astype(np.int8), p["bias"].astype(np.int32),
                p["mult"].astype(np.int32), p["shift"].astype(np.int32), tuple(act["stem"]), 2,
                model.config["quant"]["input_offset"])
    head = layer("head0.conf", "conv", L["l2norm0"])
    return [stem, layer("mb0.expand", "pointwise", L["rnnpool"]), layer("mb0.project", "pointwise", L["mb0.dw"]),
            layer("mb0.dw", "depthwise", L["mb0.expand"]), layer("mb2.dw", "depthwise", L["mb2.expand"], 2),
            head, replace(head, name="head0.conf.ring", ring=1)]


def edge_cases(seed: int = 7) -> list[Case]:
    """Small shapes that reach every branch of the kernels: odd counts, borders, extreme values, any clamp, and
    per-channel shifts either all <= -2 (the 32-bit requantisation) or up to +3 (the exact rp_requantize)."""
    rng = np.random.default_rng(seed)

    def quant(n, k, exact, aim, top):
        """exact: shifts up to +3 (most outputs saturate); else scaled so that outputs are ~aim in size (an error
        in the accumulator shows), shifts <= top."""
        if exact:
            e = rng.integers(-12, 4, n)
        else:  # |acc| ~ 74^2 sqrt(k) for uniform int8 operands
            e = np.minimum(np.round(np.log2(aim / (74.0 ** 2 * np.sqrt(k)))) + rng.integers(-1, 2, n), top)
        reals = rng.uniform(0.5, 1.0, n) * 2.0 ** e * rng.choice([-1, 1], n, p=[0.3, 0.7])
        mult, shift = quantize_multipliers(reals)  # shift = the exponent e
        mult[0] = 0  # a zero multiplier gives 0
        return mult, shift

    def ints(shape):
        x = rng.integers(-128, 128, shape)
        x.flat[: x.size // 8] = rng.choice([-128, 127], x.size // 8)  # extremes
        return x.astype(np.int8)

    def case(name, kind, x, w, exact, act, stride=1):
        co, k = (w.shape[2], 9) if kind == "depthwise" else (w.shape[0], w[0].size)
        bias = rng.integers(-3000, 3000, co) * int(np.sqrt(k))
        wide = act[1] > 127
        q = quant(co, k, exact, 20_000 if wide else 60, -1 if kind == "conv" else -2)
        return Case(name, kind, x, w, bias.astype(np.int32), *q, act, stride)

    fast, exact = False, True
    acts8 = ((-128, 127), (0, 127), (-100, 90))
    cases = []
    for i, (n, ci, co) in enumerate([(7, 13, 5), (5, 64, 127), (9, 3, 2), (3, 1, 1), (6, 130, 66), (2, 300, 9),
                                     (4, 32, 16), (3, 8, 12)]):
        cases.append(case(f"edge_pw{i}", "pointwise", ints((1, n, ci)), ints((co, ci)),
                          (fast, exact)[i % 2 if i < 6 else 0], acts8[i % 3]))
    # The assembly of rp_nn_pointwise4_s8.c (c_in a multiple of 32, shifts <= -2): each clamp, one pixel, and
    # a channel group past its bound (c_out 12 with c_in 160: groups of 4 all the way).
    asm = [("edge_pw_asm_relu", (5, 64, 12), acts8[1]), ("edge_pw_asm_s8", (1, 32, 4), acts8[0]),
           ("edge_pw_asm_160", (3, 160, 12), acts8[1])]
    for name, (n, ci, co), act in asm:
        cases.append(case(name, "pointwise", ints((1, n, ci)), ints((co, ci)), fast, act))
    for i, (h, w, c, st) in enumerate([(5, 7, 13, 1), (6, 5, 6, 2), (1, 1, 5, 1), (4, 9, 130, 2), (3, 2, 64, 1),
                                       (5, 6, 8, 1), (7, 7, 12, 2), (2, 9, 4, 1)]):
        cases.append(case(f"edge_dw{i}", "depthwise", ints((h, w, c)), ints((3, 3, c)),
                          (fast, exact)[i % 2 if i < 5 else 0], acts8[i % 3], st))
    acts16 = ((-32768, 32767), (-1000, 2000))
    for i, (h, w, ci, co, k, st, act) in enumerate([(6, 7, 5, 3, 3, 1, acts16[0]), (5, 4, 64, 4, 3, 1, acts16[0]),
                                                    (7, 6, 9, 5, 3, 2, acts8[0]), (1, 3, 130, 2, 3, 1, acts16[0]),
                                                    (4, 5, 7, 9, 1, 1, acts8[1]), (5, 5, 6, 3, 1, 2, acts16[0]),
                                                    (4, 6, 128, 4, 3, 1, acts16[0]), (7, 6, 8, 5, 3, 2, acts8[0]),
                                                    (3, 4, 12, 3, 3, 1, acts16[1]), (6, 5, 16, 2, 3, 1, acts16[1]),
                                                    (2, 2, 4, 1, 3, 1, acts8[2]), (5, 6, 32, 4, 1, 2, acts16[0]),
                                                    (7, 9, 32, 8, 3, 2, acts16[0]), (6, 7, 32, 6, 3, 1, acts16[0]),
                                                    (5, 9, 64, 2, 3, 1, acts16[0]), (7, 10, 32, 2, 3, 2, acts16[0])]):
        cases.append(case(f"edge_conv{i}", "conv", ints((h, w, ci)), ints((co, k, k, ci)), i in (0, 3), act, st))
    # the heads' interior rows over a ring of widened input rows (rp_conv2d_s8_s16_fast): groups of 4 and of 2
    # (pairs; an odd interior), one interior row, a narrow row, c_in 32 / 64 / 128, a scratch off a word, one too
    # small (then the int8 rows), and c_in 16 (no ring size: the plain kernel)
    for i, (h, w, ci, co, ring, off) in enumerate([(6, 9, 32, 4, 1, 0), (7, 11, 32, 2, 1, 0), (3, 5, 64, 4, 1, 0),
                                                   (5, 3, 32, 6, 1, 0), (4, 8, 128, 2, 1, 0), (6, 7, 64, 4, 1, 1),
                                                   (5, 6, 32, 4, 0, 0), (5, 9, 64, 2, 1, 3), (4, 6, 16, 4, 1, 0)]):
        c = case(f"edge_ring{i}", "conv", ints((h, w, ci)), ints((co, 3, 3, ci)), fast, acts16[0])
        cases.append(replace(c, ring=ring or -1, ring_off=off))
    # the stem's own path (up to 8 outputs) on odd and even sizes, and the generic one (9 outputs)
    for i, (h, w, co, off) in enumerate([(9, 11, 4, -117), (10, 7, 8, 0), (6, 6, 1, -255), (3, 3, 3, 40),
                                         (1, 2, 2, -117), (7, 9, 9, -117)]):
        x = rng.integers(0, 256, (h, w, 1))
        x.flat[: x.size // 4] = rng.choice([0, 255], x.size // 4)
        c = case(f"edge_stem{i}", "conv", ints((h, w, 1)), ints((co, 3, 3, 1)), i % 2 == 1, acts8[i % 3], 2)
        cases.append(replace(c, kind="stem", x=x.astype(np.uint8), in_offset=off))
    # the face models' own stem (four channels, ReLU: rp_nn_stem4_relu) on odd and even widths and heights
    for i, (h, w) in enumerate([(9, 13), (8, 10), (5, 4)]):
        x = rng.integers(0, 256, (h, w, 1))
        x.flat[: x.size // 4] = rng.choice([0, 255], x.size // 4)
        c = case(f"edge_stem4_{i}", "conv", ints((h, w, 1)), ints((4, 3, 3, 1)), fast, acts8[1], 2)
        cases.append(replace(c, kind="stem", x=x.astype(np.uint8), in_offset=-117))
    return cases


MAIN = r"""
#include "rp_kernels.h"
#include "internal/rp_nn_conv.h"
#include "rp_probe.h"

%(arrays)s
static union { int8_t s8[%(out_bytes)d]; int16_t s16[%(out_bytes)d / 2]; } out;
static uint8_t ring[%(ring_bytes)d] __attribute__((aligned(4))); /* rp_conv2d_s8_s16_fast's scratch */



static void report(const char *name, uint32_t t0, uint32_t t1, uint32_t bytes) {
    rp_probe_put(name, "_crc ", rp_probe_crc32(out.s8, bytes), 1);
    rp_probe_put(name, "_instructions ", t1 - t0, 0);
}

int main(void) {
    uint32_t t0, t1;
    rp_ticks_start();
%(body)s
    return 0;
}
"""

POINTWISE_NN = """    {
        const rp_quant_params q = {%(n)s_mult, %(n)s_shift};
        t0 = rp_ticks();
        rp_nn_pointwise_s8(&q, %(n)s_x, %(px)d, %(ci)d, %(n)s_w, %(n)s_bias, %(co)d, %(lo)d, %(hi)d, out.s8);
        t1 = rp_ticks();
        report("%(label)s", t0, t1, %(bytes)d);
    }
"""

CONV = """    {
        const rp_quant_params q = {%(n)s_mult, %(n)s_shift};
        const rp_conv_params p = {%(k)d, %(s)d, %(off)d, %(lo)d, %(hi)d};
        const rp_dims in_dims = {%(h)d, %(w)d, %(ci)d}, f_dims = {%(k)d, %(k)d, %(ci)d};
        const rp_dims o_dims = {%(ho)d, %(wo)d, %(co)d};
        const rp_context ctx = {ring + %(ring_off)d, %(ring_size)s};
        (void)ctx;
        t0 = rp_ticks();
        if (%(fn)s(%(ctx)s&p, &q, &in_dims, %(n)s_x, &f_dims, %(n)s_w, %(n)s_bias, &o_dims, out.%(field)s) != RP_OK)
            return 2;
        t1 = rp_ticks();
        report("%(label)s", t0, t1, %(bytes)d);
    }
"""

DEPTHWISE = """    {
        const rp_quant_params q = {%(n)s_mult, %(n)s_shift};
        const rp_conv_params p = {3, %(s)d, 0, %(lo)d, %(hi)d};
        const rp_dims in_dims = {%(h)d, %(w)d, %(ci)d}, o_dims = {%(ho)d, %(wo)d, %(ci)d};
        t0 = rp_ticks();
        if (rp_depthwise3x3_s8(&p, &q, &in_dims, %(n)s_x, %(n)s_w, %(n)s_bias, &o_dims, out.s8) != RP_OK) return 3;
        t1 = rp_ticks();
        report("%(label)s", t0, t1, %(bytes)d);
    }
"""


def _ident(name: str) -> str:
    return name.replace(".", "_")


def program(cases: list[Case], pointwise_api: str = "nn") -> str:
    arrays, body, seen = [], [], {}
    for c in cases:
        n = _ident(c.name)
        key = c.x.tobytes()  # the model cases share inputs: store each distinct input once
        if key not in seen:
            seen[key] = f"{n}_x"
            arrays.append(c_array(f"{n}_x", c.x))
        arrays.append(f"#define {n}_x {seen[key]}\n" if seen[key] != f"{n}_x" else "")
        arrays += [c_array(f"{n}_w", c.w), c_array(f"{n}_bias", c.bias), c_array(f"{n}_mult", c.mult),
                   c_array(f"{n}_shift", c.shift)]
        out = c.expected
        h, w, ci = c.x.shape
        v = {"n": n, "label": c.name, "h": h, "w": w, "ci": ci, "lo": c.act[0], "hi": c.act[1], "s": c.stride,
             "ho": out.shape[0], "wo": out.shape[1], "co": out.shape[2], "bytes": out.nbytes, "px": h * w,
             "k": 1 if c.kind == "pointwise" else c.w.shape[1], "fn": "rp_conv2d_s8", "off": c.in_offset,
             "field": "s16" if out.dtype == np.int16 else "s8", "ctx": "&ctx, " if c.ring else "",
             "ring_off": c.ring_off, "ring_size": f"rp_conv2d_s8_s16_get_fast_buffer_size(&in_dims) + {c.ring - 1}"}
        if c.kind == "pointwise":
            body.append((POINTWISE_NN if pointwise_api == "nn" else CONV) % v)  # [O][I] is OHWI with k = 1
        elif c.kind == "depthwise":
            body.append(DEPTHWISE % v)
        else:
            v["fn"] = "rp_conv2d_u8_s8" if c.kind == "stem" else "rp_conv2d_s8" if out.dtype != np.int16 else \
                "rp_conv2d_s8_s16_fast" if c.ring else "rp_conv2d_s8_s16"
            body.append(CONV % v)
    out_bytes = max(c.expected.nbytes for c in cases)
    ring_bytes = max([conv_ring_bytes(c.x.shape[1], c.x.shape[2]) + c.ring_off for c in cases if c.ring] + [4])
    return MAIN % {"arrays": "".join(arrays), "body": "".join(body), "out_bytes": out_bytes + out_bytes % 2,
                   "ring_bytes": ring_bytes}


def run(cases: list[Case], dsp: bool, pointwise_api: str = "nn", timeout: float = 600) -> dict[str, tuple[int, int]]:
    """Build and run ``cases`` on QEMU: name -> (CRC-32 of the output, instructions)."""
    with tempfile.TemporaryDirectory() as tmp:
        got = run_probe(program(cases, pointwise_api), Path(tmp), dsp, timeout)
    return {c.name: (got[f"{c.name}_crc"], got[f"{c.name}_instructions"]) for c in cases}


def expected_crc(case: Case) -> int:
    return zlib.crc32(np.ascontiguousarray(case.expected).tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", choices=("dsp", "portable", "both"), default="both")
    ap.add_argument("--pointwise-api", choices=("nn", "conv2d"), default="nn")
    args = ap.parse_args(argv)
    cases = model_cases()
    builds = {"dsp": [True], "portable": [False], "both": [True, False]}[args.build]
    results = {dsp: run(cases, dsp, args.pointwise_api) for dsp in builds}
    ok = True
    print(f"{'case':<12} {'shape':<22} {'MACs':>10}" + "".join(
        f" {'DSP' if d else 'portable':>12} {'MAC/instr':>9}" for d in builds) + "  CRC")
    for c in cases:
        shape = f"{c.x.shape[0]}x{c.x.shape[1]}x{c.x.shape[2]}->{c.expected.shape[2]}" + (
            f" s{c.stride}" if c.stride != 1 else "")
        row = f"{c.name:<12} {shape:<22} {c.macs:>10,}"
        crc_ok = True
        for d in builds:
            crc, n = results[d][c.name]
            crc_ok &= crc == expected_crc(c)
            row += f" {n:>12,} {c.macs / n:>9.3f}"
        ok &= crc_ok
        print(row + ("  ok" if crc_ok else "  MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
