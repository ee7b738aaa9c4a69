"""The stem: a dense conv of the 8-bit grey image with the input normalisation folded in, then ReLU6
(rp_conv2d_u8_s8).

Latency features: macs, border_macs, 1 — inner pixels take the unpadded loop, border pixels the padded one.
"""

from __future__ import annotations

import numpy as np

from harness.codegen.graph import conv_in_place
from harness.model import float_ref as fr
from harness.model.edgeml import bn_keys, fold
from harness.model.kinds import CONV
from harness.model.layers import DeviceStep, LayerKind, RowWindow, sub
from harness.model.quantize import conv_params


def _float(layer, xs, ctx):
    a, st = ctx.arrays, layer.spec
    x = fr.conv2d(fr.normalize(ctx.cfg, xs[0]), a[sub(layer.name, "w")], a[sub(layer.name, "b")], st["stride"])
    return {layer.name: fr.relu6(x)}


def _fixed(layer, xs, ctx):
    return {layer.name: ctx.conv(layer.name, xs[0][..., None], layer.spec["stride"], ctx.quant["input_offset"])}


def _quantize(layer, q):
    """x = (Y − mean)·scale = (Y + offset)·scale − δ·scale: the residual δ is folded into the bias."""
    norm, w = q.cfg["normalization"], q.arrays[sub(layer.name, "w")]
    mean, s_in = float(norm["mean"]), float(norm["scale"])
    delta = mean + q.offset
    q.put(layer.name, conv_params(w, q.arrays[sub(layer.name, "b")], s_in, q.scales[layer.name],
                                  bias_extra=-delta * s_in * np.asarray(w, np.float64).sum(axis=(1, 2, 3)),
                                  x_code_max=max(-q.offset, 255 + q.offset)))


def _init(layer, xs, ctx):
    st = layer.spec
    x = [fr.normalize(ctx.cfg, im) for im in xs[0]]
    return [fr.relu6(t) for t in ctx.conv_layer(layer.name, x, st["out"], st["kernel"], st["stride"], (0.5, 2.5),
                                                (0.8, 2.0))]


def _step(layer, g):
    st, image, out = layer.spec, g.tensors["input"].shape, g.shapes.stem
    return DeviceStep(out, macs=np.prod(out) * st["kernel"] ** 2 * image[2],
                      in_place=conv_in_place(image, out, st["kernel"], st["stride"]))


def _emit(em, s):
    st, n = em.cfg["stem"], em.c_name(s.name)
    em.data.append(f"static const rp_layer_weights {n}_l = {em.weights(s.name)};\n")
    k = st["kernel"]
    em.call(s, [f"const rp_conv_params p = {{{k}, {st['stride']}, {em.qc['input_offset']}, {n}_l.act_min, "
                f"{n}_l.act_max}};",
                f"const rp_dims in = {em.dims('input')}, f = {{{k}, {k}, 1}}, out = {em.dims(s.output)};"],
            f"rp_conv2d_u8_s8_rows(&p, &{n}_l.q, &in, {em.ptr('input', 'const uint8_t')}, &f, {n}_l.w, "
            f"{n}_l.bias, &out, {em.ptr(s.output, 'int8_t')}, {em.rows[0]}, {em.rows[1]})")


def _inner(n_out: int, n_in: int, k: int, stride: int) -> int:
    """Outputs along one axis whose window needs no padding."""
    return sum(1 for o in range(n_out) if o * stride - k // 2 >= 0 and o * stride - k // 2 + k <= n_in)


def _work(s, w):
    (h, wd, c), src = w.out, w.src
    k, st = s.layer.spec["kernel"], s.layer.spec["stride"]
    border = h * wd - _inner(h, src[0], k, st) * _inner(wd, src[1], k, st)
    return {"macs": s.macs, "border_macs": border * k * k * src[2] * c}


def _edgeml_keys(layer, cfg):
    c = layer.spec["out"]
    return {"conv.0.weight": (c, 1, 3, 3), **bn_keys("conv.1", c)}


def _from_edgeml(sd, layer):
    w, b = fold(sd, "conv.0", "conv.1")
    return {sub(layer.name, "w"): w, sub(layer.name, "b"): b}


KIND = LayerKind("stem", _step, _emit, ("macs", "border_macs", "1"), _work, float=_float, fixed=_fixed,
                 kernels={"conv": CONV}, quantize=_quantize, relu6=("",), init=_init, edgeml_keys=_edgeml_keys,
                 from_edgeml=_from_edgeml,
                 rows=lambda layer: RowWindow(layer.spec["kernel"], layer.spec["stride"], layer.spec["kernel"] // 2),
                 streams=True)
