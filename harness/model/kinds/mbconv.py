"""MBConv (inverted residual) block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual add when the
block keeps its shape. The references keep the three sub-layers (``mb{i}.expand``, ``.dw``, ``.project``); the
device fuses them row by row (rp_mbconv_s8) and only ``mb{i}`` is materialised.

Latency features: pw_macs, dw_macs, requant, add_elements, widen, 1 — SMLAD pointwise vs 3x3 depthwise, one
requantise per value, the residual's elements, and the int8 → int16 widening of inputs and expanded rows.
"""

from __future__ import annotations

import numpy as np

from harness.native import kernels as hk
from harness.model import fixed_ref as fx
from harness.model import float_ref as fr
from harness.model.archs import conv_out
from harness.model.edgeml import bn_keys, fold
from harness.model.kinds import CONV
from harness.model.layers import DeviceStep, Kernel, LayerKind, RowWindow, qkey, sub
from harness.model.qmath import ONE_Q14, quantize_multiplier
from harness.model.quantize import conv_params


def _float(layer, xs, ctx):
    a, n, x = ctx.arrays, layer.name, xs[0]
    w = {p: (a[sub(sub(n, p), "w")], a[sub(sub(n, p), "b")]) for p in ("expand", "dw", "project")}
    e = fr.relu6(fr.conv2d(x, *w["expand"]))
    d = fr.relu6(fr.depthwise3x3(e, *w["dw"], layer.spec["stride"]))
    y = fr.conv2d(d, *w["project"])
    return {sub(n, "expand"): e, sub(n, "dw"): d, sub(n, "project"): y, n: x + y if layer.spec["residual"] else y}


def _fixed(layer, xs, ctx):
    n, x = layer.name, xs[0]
    e = ctx.conv(sub(n, "expand"), x)
    p = ctx.p(sub(n, "dw"))
    d = ctx.k.depthwise(e, p["w"], p["bias"], p["mult"], p["shift"], ctx.act(sub(n, "dw")), layer.spec["stride"])
    y = z = ctx.conv(sub(n, "project"), d)
    if layer.spec["residual"]:
        p = ctx.p(sub(n, "add"))
        z = ctx.k.add(x, y, p["ka"], p["kb"], p["mult"], p["shift"])
    return {sub(n, "expand"): e, sub(n, "dw"): d, sub(n, "project"): y, n: z}


def _quantize(layer, q):
    n, prev, a, s = layer.name, layer.inputs[0], q.arrays, q.scales
    ex, dw, pj = sub(n, "expand"), sub(n, "dw"), sub(n, "project")
    q.put(ex, conv_params(a[sub(ex, "w")], a[sub(ex, "b")], s[prev], s[ex]))
    p = conv_params(a[sub(dw, "w")], a[sub(dw, "b")], s[ex], s[dw])
    p["w"] = p["w"][:, :, :, 0].transpose(1, 2, 0)  # (C, 3, 3, 1) → (3, 3, C)
    q.put(dw, p)
    q.put(pj, conv_params(a[sub(pj, "w")], a[sub(pj, "b")], s[dw], s[pj]))
    if layer.spec["residual"]:
        sa, sb = s[prev], s[pj]
        top = max(sa, sb)
        m, sh = quantize_multiplier(top / (ONE_Q14 * s[n]))
        q.put(sub(n, "add"), {"ka": np.int32(round(ONE_Q14 * sa / top)), "kb": np.int32(round(ONE_Q14 * sb / top)),
                              "mult": np.int32(m), "shift": np.int32(sh)})
    else:  # no add: the block's output is the projection's
        s[n] = s[pj]
        q.act[n] = q.act[pj]


def _init(layer, xs, ctx):
    blk, n, x = layer.spec, layer.name, xs[0]
    e = [fr.relu6(t) for t in ctx.conv_layer(sub(n, "expand"), x, blk["hidden"], 1, 1, (0.5, 2.0), (0.8, 1.8))]
    d = [fr.relu6(t) for t in ctx.conv_layer(sub(n, "dw"), e, blk["hidden"], 3, blk["stride"], (0.5, 2.0),
                                             (0.8, 1.8), depthwise=True)]
    p = ctx.conv_layer(sub(n, "project"), d, blk["out"], 1, 1, (-0.5, 0.5), (0.5, 1.0))
    return [a + b for a, b in zip(x, p)] if blk["residual"] else p


def _shape(blk, src):
    return conv_out(src[0], 3, blk["stride"], 1), conv_out(src[1], 3, blk["stride"], 1), blk["out"]


def mbconv_scratch(w: int, c_in: int, hidden: int, stride: int) -> int:
    """rp_mbconv_s8_get_buffer_size without the residual's row: a ring of 3 expanded rows plus a row area of twice
    the larger of an input row and a depthwise output row, rounded to a word (rp_nn_mbconv_half)."""
    half = max(((w - 1) // stride + 1) * hidden, w * c_in)
    return 3 * w * hidden + 2 * ((half + 3) & ~3)


def mbconv_records(c_in: int, hidden: int, c_out: int, stride: int) -> int:
    """rp_mbconv_s8_get_fast_buffer_size's addition: the records (widened weights) of the 1x1 layers whose shapes
    suit the DSP path's wide kernels (rp_nn_pointwise_wide_records_bytes) and, at stride 1, of the depthwise's
    groups of four (rp_nn_depthwise4_records_bytes: 57 words each), made once per call, + 3 for alignment."""
    def records(ci: int, co: int) -> int:
        return co // 4 * (4 + 2 * ci + 12) * 4 if 32 <= ci <= 128 and ci % 32 == 0 and co >= 4 and co % 4 == 0 else 0
    dw = hidden // 4 * 57 * 4 if stride == 1 and hidden >= 4 and hidden % 4 == 0 else 0
    n = records(c_in, hidden) + records(hidden, c_out) + dw
    return n + 3 if n else 0


def _rows(layer) -> RowWindow:
    """Fused, each input row is expanded as it comes into the block's own ring of 3 expanded rows (its scratch), so
    of the input it reads only the row it expands and, with the residual, output row y's own (y, y + 1)."""
    s = layer.spec["stride"]
    return RowWindow(2, 1, 0) if layer.spec["residual"] else RowWindow(1, s, 1 - s)


def _carry(layer, src) -> tuple[RowWindow, int, int]:
    """Fused, the block makes the expanded tensor inside: the depthwise 3x3's window over it (width, channels)."""
    return RowWindow(3, layer.spec["stride"], 1), src[1], layer.spec["hidden"]


def _step(layer, g):
    blk, xs, out = layer.spec, g.tensors[layer.inputs[0]].shape, g.shapes.blocks[layer.index]
    hid = blk["hidden"]
    macs = xs[0] * xs[1] * hid * xs[2] + out[0] * out[1] * hid * (9 + out[2])
    scratch = mbconv_scratch(xs[1], xs[2], hid, blk["stride"]) + (out[1] * out[2] if blk["residual"] else 0)
    fits = out[1] * out[2] <= blk["stride"] * xs[1] * xs[2]
    spare = mbconv_records(xs[2], hid, out[2], blk["stride"])
    return DeviceStep(out, scratch, macs, 0 if fits else None, spare=spare)


def _emit(em, s):
    blk, n = s.layer.spec, em.c_name(s.name)
    add = "0"
    if blk["residual"]:
        q = {k: int(em.a[qkey(sub(s.name, "add"), k)]) for k in ("ka", "kb", "mult", "shift")}
        em.data.append(f"static const rp_add_params {n}_add = {{{q['ka']}, {q['kb']}, {q['mult']}, "
                       f"{q['shift']}, -128, 127}};\n")
        add = f"&{n}_add"
    em.data.append(
        f"static const rp_mbconv_params {n}_p = {{{blk['hidden']}, {blk['stride']}, "
        f"{em.weights(sub(s.name, 'expand'))}, {em.weights(sub(s.name, 'dw'))}, "
        f"{em.weights(sub(s.name, 'project'))}, {add}}};\n")
    em.call(s, [f"const rp_context ctx = {em.scratch(s)};",
                f"const rp_dims in = {em.dims(s.inputs[0])}, out = {em.dims(s.output)};"],
            f"rp_mbconv_s8(&ctx, &{n}_p, &in, {em.ptr(s.inputs[0], 'const int8_t')}, &out, "
            f"{em.ptr(s.output, 'int8_t')})")


def _work(s, w):
    blk, (h, wd, c), src = s.layer.spec, w.out, w.src
    hid, pixels = blk["hidden"], h * wd
    dw = pixels * hid * 9
    base = mbconv_scratch(src[1], src[2], hid, blk["stride"]) + (wd * c if blk["residual"] else 0)
    # the 1x1 weights widened once, not per row, when the graph granted the records (DeviceStep.spare)
    once = s.scratch >= base + mbconv_records(src[2], hid, c, blk["stride"]) > base
    return {"pw_macs": s.macs - dw, "dw_macs": dw, "requant": src[0] * src[1] * hid + pixels * (hid + c),
            "add_elements": h * wd * c if blk["residual"] else 0,
            "widen": (1 if once else src[0]) * hid * src[2] + (1 if once else h) * hid * c}


def _edgeml_keys(layer, cfg):
    b, m = layer.spec, f"mob.{layer.index}.conv"
    return {f"{m}.0.0.weight": (b["hidden"], b["in"], 1, 1), **bn_keys(f"{m}.0.1", b["hidden"]),
            f"{m}.1.0.weight": (b["hidden"], 1, 3, 3), **bn_keys(f"{m}.1.1", b["hidden"]),
            f"{m}.2.weight": (b["out"], b["hidden"], 1, 1), **bn_keys(f"{m}.3", b["out"])}


def _from_edgeml(sd, layer):
    m, out = f"mob.{layer.index}.conv", {}
    for part, conv, bn in (("expand", f"{m}.0.0", f"{m}.0.1"), ("dw", f"{m}.1.0", f"{m}.1.1"),
                           ("project", f"{m}.2", f"{m}.3")):
        out[sub(sub(layer.name, part), "w")], out[sub(sub(layer.name, part), "b")] = fold(sd, conv, bn)
    return out


def _torch(blk, hard):
    from harness.train.net import InvertedResidual

    return InvertedResidual(blk["in"], blk["hidden"], blk["out"], blk["stride"], blk["residual"])


KIND = LayerKind("mbconv", _step, _emit, ("pw_macs", "dw_macs", "requant", "add_elements", "widen", "1"), _work,
                 float=_float, fixed=_fixed,
                 kernels={"conv": CONV, "depthwise": Kernel(fx.depthwise_s8, hk.depthwise3x3),
                          "add": Kernel(fx.add_s8, hk.add)},
                 quantize=_quantize, parts=("expand", "dw", "project"), relu6=("expand", "dw"), init=_init,
                 edgeml_keys=_edgeml_keys, from_edgeml=_from_edgeml, prefix="mb", shape=_shape, torch=_torch,
                 rows=_rows, carry=_carry)
