"""L2Norm over the channels of each pixel with a learnt per-channel scale, before a head (rp_l2norm_s8).

Latency features: out_elements, pixels, 1 — square + requantise per value, one isqrt and divide per pixel.
"""

from __future__ import annotations

import numpy as np

from harness.native import kernels as hk
from harness.model import fixed_ref as fx
from harness.model import float_ref as fr
from harness.model.layers import DeviceStep, Kernel, LayerKind, RowWindow, sub
from harness.model.qmath import quantize_multipliers

EDGEML_NAMES = ("L2Norm3_3", "L2Norm4_3", "L2Norm5_3")  # EdgeML's modules for heads 0, 1, 2


def _float(layer, xs, ctx):
    return {layer.name: fr.l2norm(xs[0], ctx.arrays[sub(layer.name, "w")])}


def _fixed(layer, xs, ctx):
    p = ctx.p(layer.name)
    return {layer.name: ctx.k.l2norm(xs[0], p["mult"], p["shift"])}


def _quantize(layer, q):
    mult, shift = quantize_multipliers(np.asarray(q.arrays[sub(layer.name, "w")], np.float64) * 2.0 ** -20
                                       / q.scales[layer.name])
    q.put(layer.name, {"mult": mult, "shift": shift})


def _init(layer, xs, ctx):
    w = ctx.arrays[sub(layer.name, "w")] = np.full(xs[0][0].shape[-1], layer.spec["l2norm"], np.float32)
    return [fr.l2norm(s, w) for s in xs[0]]


def _step(layer, g):
    out = g.tensors[layer.inputs[0]].shape
    return DeviceStep(out, macs=np.prod(out))


def _emit(em, s):
    n = em.c_name(s.name)
    em.data.append(f"static const rp_quant_params {n}_q = {{{em.arr(sub(s.name, 'mult'))}, "
                   f"{em.arr(sub(s.name, 'shift'))}}};\n")
    em.call(s, [f"const rp_dims d = {em.dims(s.output)};"],
            f"rp_l2norm_s8(&{n}_q, &d, {em.ptr(s.inputs[0], 'const int8_t')}, {em.ptr(s.output, 'int8_t')})")


def _work(s, w):
    h, wd, c = w.out
    return {"out_elements": h * wd * c, "pixels": h * wd}


def _edgeml_keys(layer, cfg):
    return {f"{EDGEML_NAMES[layer.index]}.weight": (cfg["blocks"][layer.spec["block"]]["out"],)}


def _from_edgeml(sd, layer):
    return {sub(layer.name, "w"): sd[f"{EDGEML_NAMES[layer.index]}.weight"].astype(np.float32)}


KIND = LayerKind("l2norm", _step, _emit, ("out_elements", "pixels", "1"), _work, float=_float, fixed=_fixed,
                 kernels={"l2norm": Kernel(fx.l2norm_s8, hk.l2norm)}, quantize=_quantize, init=_init,
                 edgeml_keys=_edgeml_keys, from_edgeml=_from_edgeml, rows=lambda layer: RowWindow())
