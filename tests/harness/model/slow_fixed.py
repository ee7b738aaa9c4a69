"""A second, deliberately naive implementation of the fixed-point model: plain Python integers, one loop per
output element, patch by patch RNNPool (no shared row sequences), written from docs/numerics.md the way a C
kernel would be. The vectorised reference must agree with it on every layer.
"""

from __future__ import annotations

import math

import numpy as np

ONE = 1 << 14


def requantize(acc: int, mult: int, shift: int) -> int:
    total = 31 - shift
    return (acc * mult + (1 << (total - 1))) >> total


def clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def _entry(v: int) -> int:
    """x = v / 2^14 rounded half up to a multiple of 1/128, in table steps, clamped to [−1024, 1023]."""
    return clamp((v + 64) >> 7, -1024, 1023)


TANH = {i: round(ONE * math.tanh(i / 128)) for i in range(-1024, 1024)}
SIGMOID = {i: round(ONE / (1 + math.exp(-i / 128))) for i in range(-1024, 1024)}


def tanh_q14(v: int) -> int:
    return TANH[_entry(v)]


def sigmoid_q14(v: int) -> int:
    return SIGMOID[_entry(v)]


def conv(x, w, bias, mult, shift, act, stride=1, in_offset=0):
    h, wd, cin = x.shape
    o, k = w.shape[0], w.shape[1]
    pad = k // 2
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((ho, wo, o), np.int64)
    xl = x.tolist()
    wl = w.tolist()
    for oy in range(ho):
        for ox in range(wo):
            for c in range(o):
                acc = int(bias[c])
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
                        if 0 <= iy < h and 0 <= ix < wd:
                            row, wrow = xl[iy][ix], wl[c][ky][kx]
                            for ci in range(cin):
                                acc += wrow[ci] * (row[ci] + in_offset)
                out[oy, ox, c] = clamp(requantize(acc, int(mult[c]), int(shift[c])), *act)
    return out


def depthwise(x, w, bias, mult, shift, act, stride):
    h, wd, ch = x.shape
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    out = np.zeros((ho, wo, ch), np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for c in range(ch):
                acc = int(bias[c])
                for ky in range(3):
                    for kx in range(3):
                        iy, ix = oy * stride + ky - 1, ox * stride + kx - 1
                        if 0 <= iy < h and 0 <= ix < wd:
                            acc += int(w[ky, kx, c]) * int(x[iy, ix, c])
                out[oy, ox, c] = clamp(requantize(acc, int(mult[c]), int(shift[c])), *act)
    return out


def fastgrnn(seq, q, hard):
    """seq: list of input vectors (Python ints). Returns the final hidden state (list of ints)."""
    w = q["w"].tolist()
    nh = len(w)
    k = int(q["x_shift"])
    zeta, nu, mult, shift = int(q["zeta"]), int(q["nu"]), int(q["mult"]), int(q["shift"])
    h = [0] * nh
    for x in seq:
        v = [xi << k for xi in x] + h
        new = []
        for i in range(nh):
            pre = requantize(sum(wi * vi for wi, vi in zip(w[i], v)), mult, shift)
            g, u = pre + int(q["bg"][i]), pre + int(q["bh"][i])
            if hard:
                z, c = clamp((g + ONE) >> 1, 0, ONE), clamp(u, -ONE, ONE)
            else:
                z, c = sigmoid_q14(g), tanh_q14(u)
            coef = ((zeta * (ONE - z)) >> 14) + nu
            new.append(clamp((z * h[i] + coef * c + (1 << 13)) >> 14, -32768, 32767))
        h = new
    return h


def rnnpool(x, q1, q2, patch, stride, hard, out_mult, out_shift):
    ph, pw = (x.shape[0] - patch) // stride + 1, (x.shape[1] - patch) // stride + 1
    out = np.zeros((ph + 1, pw + 1, 4 * q2["w"].shape[0]), np.int64)
    xl = x.tolist()
    for i in range(ph):
        for j in range(pw):
            p = [[xl[i * stride + r][j * stride + c] for c in range(patch)] for r in range(patch)]
            rows = [fastgrnn([p[r][c] for c in range(patch)], q1, hard) for r in range(patch)]
            cols = [fastgrnn([p[r][c] for r in range(patch)], q1, hard) for c in range(patch)]
            res = (fastgrnn(rows, q2, hard) + fastgrnn(rows[::-1], q2, hard)
                   + fastgrnn(cols, q2, hard) + fastgrnn(cols[::-1], q2, hard))
            out[i, j] = [clamp(requantize(v, out_mult, out_shift), -128, 127) for v in res]
    out[ph, :pw] = out[ph - 1, :pw]
    out[:, pw] = out[:, pw - 1]
    return out


def l2norm(x, mult, shift):
    out = np.zeros_like(x, dtype=np.int64)
    for y in range(x.shape[0]):
        for xx in range(x.shape[1]):
            v = [int(t) for t in x[y, xx]]
            n = _isqrt(sum(t * t for t in v) << 8)
            inv = (1 << 24) // n if n else 0
            out[y, xx] = [clamp(requantize(t * inv, int(m), int(s)), -128, 127) for t, m, s in zip(v, mult, shift)]
    return out


def _isqrt(v: int) -> int:
    r = 0
    bit = 1 << 30
    while bit > v:
        bit >>= 2
    while bit:  # the classic digit-by-digit method, as a C version would do it
        if v >= r + bit:
            v -= r + bit
            r = (r >> 1) + bit
        else:
            r >>= 1
        bit >>= 2
    return r


def run(model, image_u8, hard=False) -> dict[str, np.ndarray]:
    cfg, a, qc = model.config, model.arrays, model.config["quant"]
    act = qc["act"]

    def P(name):
        return {k[len(name) + 3:]: v for k, v in a.items() if k.startswith(f"q/{name}.")}

    def cv(name, x, stride=1, off=0):
        p = P(name)
        return conv(x, p["w"], p["bias"], p["mult"], p["shift"], act[name], stride, off)

    L = {"stem": cv("stem", image_u8[..., None].astype(np.int64), cfg["stem"]["stride"], qc["input_offset"])}
    rp, r = cfg["rnnpool"], P("rnnpool")
    x = L["rnnpool"] = rnnpool(L["stem"], P("rnn1"), P("rnn2"), rp["patch"], rp["stride"], hard,
                               int(r["out_mult"]), int(r["out_shift"]))
    for i, blk in enumerate(cfg["blocks"]):
        e = cv(f"mb{i}.expand", x)
        p = P(f"mb{i}.dw")
        d = depthwise(e, p["w"], p["bias"], p["mult"], p["shift"], act[f"mb{i}.dw"], blk["stride"])
        y = cv(f"mb{i}.project", d)
        if blk["residual"]:
            p = P(f"mb{i}.add")
            ka, kb, m, s = (int(p[k]) for k in ("ka", "kb", "mult", "shift"))
            y = np.array([clamp(requantize(int(u) * ka + int(v) * kb, m, s), -128, 127)
                          for u, v in zip(x.ravel().tolist(), y.ravel().tolist())]).reshape(y.shape)
        x = L[f"mb{i}"] = y
    for j, hd in enumerate(cfg["heads"]):
        src = L[f"mb{hd['block']}"]
        if hd["l2norm"] is not None:
            p = P(f"l2norm{j}")
            src = L[f"l2norm{j}"] = l2norm(src, p["mult"], p["shift"])
        L[f"head{j}.conf"] = cv(f"head{j}.conf", src)
        L[f"head{j}.loc"] = cv(f"head{j}.loc", src)
    return L
