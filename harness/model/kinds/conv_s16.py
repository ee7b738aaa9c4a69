"""A detection head's 3x3 conv, int8 → int16 (rp_conv2d_s8_s16): ``head{j}.conf`` and ``head{j}.loc``.

Latency features: row_macs, int8_row_macs, macs, ring_pair_macs, pair_macs, generic_macs, window, iterations,
out_elements, generic_outputs, 1 — the SMLAD sweep vs the plain loop (rp_nn_conv_s8.c takes the sweep when
every shift <= -1), the interior rows over int8 or (with the ring the graph grants where the arena has room:
rp_conv2d_s8_s16_fast) over input rows widened once, window loads per pixel (k·k·c_in) and one requantise per
output.
"""

from __future__ import annotations

import numpy as np

from harness.model import float_ref as fr
from harness.model.kinds import CONV
from harness.model.layers import DeviceStep, LayerKind, RowWindow, qkey, sub
from harness.model.quantize import conv_params

_INIT = {"conf": ((-1.0, 1.0), (1.0, 2.5)), "loc": ((-0.3, 0.3), (0.3, 0.8))}  # random init: mean, spread ranges


def _float(layer, xs, ctx):
    return {layer.name: fr.conv2d(xs[0], ctx.arrays[sub(layer.name, "w")], ctx.arrays[sub(layer.name, "b")])}


def _fixed(layer, xs, ctx):
    return {layer.name: ctx.conv(layer.name, xs[0])}


def _quantize(layer, q):
    n, a = layer.name, q.arrays
    q.put(n, conv_params(a[sub(n, "w")], a[sub(n, "b")], q.scales[layer.inputs[0]], q.scales[n]))


def _init(layer, xs, ctx):
    return ctx.conv_layer(layer.name, xs[0], layer.spec["out"], 3, 1, *_INIT[layer.spec["part"]])


def conv_ring_bytes(w: int, c_in: int) -> int:
    """rp_conv2d_s8_s16_get_fast_buffer_size (rp_nn_conv_ring_bytes): three input rows widened to int16 and the row
    assembly's seven arguments, + 3 for alignment, when c_in is a multiple of 32; else 0."""
    return 3 * w * c_in * 2 + 7 * 4 + 3 if c_in >= 32 and c_in % 32 == 0 else 0


def _step(layer, g):
    src, n = g.tensors[layer.inputs[0]].shape, layer.spec["out"]
    return DeviceStep((src[0], src[1], n), macs=src[0] * src[1] * n * 9 * src[2],
                      spare=conv_ring_bytes(src[1], src[2]))


def _emit(em, s):
    n = em.c_name(s.name)
    em.data.append(f"static const rp_layer_weights {n}_l = {em.weights(s.name)};\n")
    c_in = em.g.tensors[s.inputs[0]].shape[2]
    args = (f"&p, &{n}_l.q, &in, {em.ptr(s.inputs[0], 'const int8_t')}, &f, {n}_l.w, {n}_l.bias, &out, "
            f"{em.ptr(s.output, 'int16_t')}")
    lines = [f"const rp_conv_params p = {{3, 1, 0, {n}_l.act_min, {n}_l.act_max}};",
             f"const rp_dims in = {em.dims(s.inputs[0])}, f = {{3, 3, {c_in}}}, out = {em.dims(s.output)};"]
    if s.scratch:  # the graph granted the ring (DeviceStep.spare)
        em.call(s, lines + [f"const rp_context ctx = {em.scratch(s)};"], f"rp_conv2d_s8_s16_fast(&ctx, {args})")
    else:
        em.call(s, lines, f"rp_conv2d_s8_s16({args})")


def conv_fast(model, name: str, c_in: int, k: int = 3) -> bool:
    """Whether rp_nn_conv_s8 takes its SMLAD sweep (every shift <= -1, c_in % 4 == 0, the widened filters fit);
    else the plain per-output loop."""
    shifts = np.asarray(model.arrays.get(qkey(name, "shift"), np.zeros(0, np.int64)))
    return bool(shifts.size and (shifts <= -1).all() and c_in % 4 == 0 and k * k * c_in <= 1152)


def _valid_taps(n_out: int, n_in: int, k: int = 3) -> int:
    """Window taps inside the input along one axis, summed over the outputs (stride 1, same padding)."""
    return sum(min(o + k // 2, n_in - 1) - max(o - k // 2, 0) + 1 for o in range(n_out))


def _pair_steps(w: int) -> int:
    """Sweep steps along a row of w outputs when pixels go in pairs with equal valid taps: the two edge pixels
    (padded on one side) go alone."""
    return w if w < 3 else 2 + (w - 2 + 1) // 2


def _work(s, wk):
    (h, w, c), src = wk.out, wk.src
    fast = conv_fast(wk.model, s.name, src[2])
    window = _valid_taps(h, src[0]) * _valid_taps(w, src[1]) * src[2]  # padding taps are skipped
    # the sweep runs channel groups of 4 one pixel at a time, groups of 2 over pixel pairs
    groups = [4 if c - o >= 3 else 2 for o in range(0, c, 4)] if fast else []
    pair = sum(g == 2 for g in groups) * 4 * window * _pair_steps(w) // w  # an unpaired pixel is done twice
    # groups of 4 take whole window rows (the columns 1 .. w - 2) in assembly when 3 c_in is a multiple of 32
    # (rp_nn_conv4_dot), the border columns' partial rows in C
    rows = _valid_taps(h, src[0]) * 3 * max(w - 2, 0) * src[2] if src[2] % 32 == 0 and src[1] == w else 0
    fours = sum(g == 4 for g in groups)
    # The interior rows' assembly reads int8 input, or (with the ring the graph granted, s.scratch) input rows
    # widened once per group: the int8 form costs more per MAC (int8_row_macs on top of row_macs); the pairs'
    # interior over the ring (ring_pair_macs) costs less than their border pixels in C (pair_macs). The widening
    # itself, proportional to the input, is left to the MAC terms: a feature of its own fitted as a stand-in for
    # the others on the calibration set's small maps (a held-out size then came out 6 % off)
    wide = bool(s.scratch) and rows > 0
    inner = max(h - 2, 0) * 2 * (max(w - 2, 0) // 2) * 2 * 9 * src[2] * sum(g == 2 for g in groups) if wide else 0
    return {"row_macs": fours * 4 * rows, "int8_row_macs": 0 if wide else fours * 4 * rows,
            "macs": fours * 4 * (window - rows), "ring_pair_macs": inner, "pair_macs": pair - inner,
            "generic_macs": 0 if fast else window * c, "window": window * len(groups),
            "iterations": sum(h * (w if g == 4 else _pair_steps(w)) for g in groups),
            "out_elements": h * w * c if fast else 0, "generic_outputs": 0 if fast else h * w * c}


def _edgeml_keys(layer, cfg):
    p, j, n = layer.spec["part"], layer.index, layer.spec["out"]
    c = cfg["blocks"][cfg["heads"][j]["block"]]["out"]
    return {f"{p}.{j}.weight": (n, c, 3, 3), f"{p}.{j}.bias": (n,)}


def _from_edgeml(sd, layer):
    p, j = layer.spec["part"], layer.index
    return {sub(layer.name, "w"): sd[f"{p}.{j}.weight"].astype(np.float32),
            sub(layer.name, "b"): sd[f"{p}.{j}.bias"].astype(np.float32)}


KIND = LayerKind("conv_s16", _step, _emit,
                 ("row_macs", "int8_row_macs", "macs", "ring_pair_macs", "pair_macs", "generic_macs", "window",
                  "iterations", "out_elements", "generic_outputs", "1"),
                 _work, float=_float, fixed=_fixed, kernels={"conv": CONV}, quantize=_quantize, dtype="int16",
                 init=_init, edgeml_keys=_edgeml_keys, from_edgeml=_from_edgeml, rows=lambda layer: RowWindow(3, 1, 1))
