"""RNNPool: two FastGRNN cells over every patch of the stem output, then replicate padding (rp_rnnpool_s8).

Parameters: ``rnn1.*``, ``rnn2.*`` (the cells) and ``rnnpool.out_*`` (Q14 states → int8). Latency features: macs,
generic_macs, 1 — the prepared FastGRNN path vs the generic int64 step (≈2x per MAC); the firmware picks the path
from the model alone (rp_rnnpool_s8.c: the prepared cells must fit the scratch).
"""

from __future__ import annotations

import numpy as np

from harness.native import kernels as hk
from harness.model import fixed_ref as fx
from harness.model import float_ref as fr
from harness.model import ops
from harness.model.layers import DeviceStep, Kernel, LayerKind, RowWindow, qkey, sub
from harness.model.qmath import ONE_Q14, quantize_multiplier

_CELLS = ("rnn1", "rnn2")
_RNN_PARTS = ("W", "U", "bias_gate", "bias_update", "zeta", "nu")
_EDGEML = {"rnn1": "cell_rnn", "rnn2": "cell_bidirrnn"}


def _float(layer, xs, ctx):
    rp, a = layer.spec, ctx.arrays
    y = fr.rnnpool(xs[0], fr.rnn_params(a, "rnn1"), fr.rnn_params(a, "rnn2"), rp["patch"], rp["stride"], ctx.hard)
    return {layer.name: ops.replicate_pad_br(y)}


def _fixed(layer, xs, ctx):
    rp, r = layer.spec, ctx.p(layer.name)
    return {layer.name: ctx.k.rnnpool(xs[0], ctx.p("rnn1"), ctx.p("rnn2"), rp["patch"], rp["stride"], ctx.hard,
                                      r["out_mult"], r["out_shift"])}


def _rnn_params(a, name: str, s_x: float, x_code_max: int, x_shift: int) -> dict:
    """Fused [W U] int16 with one accumulator scale s_acc; pre-activation requantised to Q14.

    Inputs enter as int16 ``x << x_shift`` so that their codes are as wide as the Q14 state's and W and U get
    comparable precision from the shared scale. s_acc is then widened until the integer worst case,
    Σ|Wq|·|x code| + Σ|Uq|·32768 (any int16 state), fits int32: no assumption about the state's range.
    """
    W, U = (np.asarray(a[sub(name, k)], np.float64) for k in ("W", "U"))
    s_h, s_xw = 2.0 ** -14, s_x / 2.0 ** x_shift
    x_max = x_code_max << x_shift
    s_acc = max(np.abs(W).max() * s_xw / 32767, np.abs(U).max() * s_h / 32767, 1e-30)
    while True:
        w = np.clip(np.round(np.concatenate([W * s_xw, U * s_h], axis=1) / s_acc), -32767, 32767).astype(np.int64)
        nin = W.shape[1]
        worst = int((np.abs(w[:, :nin]).sum(axis=1) * x_max + np.abs(w[:, nin:]).sum(axis=1) * 32768).max())
        if worst < 2**31:
            break
        s_acc *= worst / 2**31 * 1.001
    mult, shift = quantize_multiplier(s_acc * ONE_Q14)
    sig = lambda v: 1.0 / (1.0 + np.exp(-float(np.asarray(v).reshape(()))))  # noqa: E731
    return {"w": w.astype(np.int16), "x_shift": np.int32(x_shift),
            "bg": _on_table_grid(a[sub(name, "bg")]), "bh": _on_table_grid(a[sub(name, "bh")]),
            "mult": np.int32(mult), "shift": np.int32(shift),
            "zeta": np.int32(round(sig(a[sub(name, "zeta")]) * ONE_Q14)),
            "nu": np.int32(round(sig(a[sub(name, "nu")]) * ONE_Q14))}


def _on_table_grid(b) -> np.ndarray:
    """A gate bias in Q14 on the tables' 1/128 grid (a multiple of 128): the tables see the pre-activation only to
    1/128 anyway, and a cell whose bg - bh is on the grid needs one table index per unit (one_index)."""
    return (np.round(np.asarray(b, np.float64) * 128) * 128).astype(np.int32)


def _quantize(layer, q):
    q.put("rnn1", _rnn_params(q.arrays, "rnn1", q.scales[layer.inputs[0]], 127, x_shift=8))
    q.put("rnn2", _rnn_params(q.arrays, "rnn2", 2.0 ** -14, 32768, x_shift=0))
    m, s = quantize_multiplier(2.0 ** -14 / q.scales[layer.name])
    q.put(layer.name, {"out_mult": np.int32(m), "out_shift": np.int32(s)})


def _init(layer, xs, ctx):
    """EdgeML's initialisation (0.1·randn matrices, ζ = 100, ν = −100) with random biases."""
    rp, a, rng = layer.spec, ctx.arrays, ctx.rng
    for name, nin, nh in (("rnn1", ctx.cfg["stem"]["out"], rp["hidden1"]), ("rnn2", rp["hidden1"], rp["hidden2"])):
        a[sub(name, "W")] = (0.3 * rng.standard_normal((nh, nin)) / np.sqrt(nin)).astype(np.float32)
        a[sub(name, "U")] = (0.1 * rng.standard_normal((nh, nh))).astype(np.float32)
        a[sub(name, "bg")] = rng.normal(0.0, 0.5, nh).astype(np.float32)
        a[sub(name, "bh")] = rng.normal(0.0, 0.5, nh).astype(np.float32)
        a[sub(name, "zeta")], a[sub(name, "nu")] = np.array(100.0, np.float32), np.array(-100.0, np.float32)
    p1, p2 = fr.rnn_params(a, "rnn1"), fr.rnn_params(a, "rnn2")
    return [ops.replicate_pad_br(fr.rnnpool(x, p1, p2, rp["patch"], rp["stride"], ctx.hard)) for x in xs[0]]


def _rnn1_sequences(cfg: dict, grid: tuple[int, int]) -> int:
    """RNN1's sequences after the dedupe (numerics §4.3): one per (stem row, patch column) and per (patch row, stem
    column) that a patch reads."""
    P, S = cfg["rnnpool"]["patch"], cfg["rnnpool"]["stride"]
    return ((grid[0] - 1) * S + P) * grid[1] + ((grid[1] - 1) * S + P) * grid[0]


def rnnpool_macs(cfg: dict, stem: tuple[int, int, int], grid: tuple[int, int], fast: bool = True) -> int:
    """Multiply-accumulates as rp_rnnpool_s8 performs them (numerics §4.3): RNN1 once per shared row and column
    sequence; on the fast path its first step skips U h (h = 0), and RNN2 projects each summary once (row summaries
    once, column summaries once per patch row) and then runs U h alone, from h = 0; the generic path multiplies the
    whole [W | U] every step."""
    rp = cfg["rnnpool"]
    h1, h2, P, S, c = rp["hidden1"], rp["hidden2"], rp["patch"], rp["stride"], stem[2]
    used_h, used_w = (grid[0] - 1) * S + P, (grid[1] - 1) * S + P
    sequences, patches = _rnn1_sequences(cfg, grid), grid[0] * grid[1]
    if not fast:
        return sequences * P * h1 * (c + h1) + patches * 4 * P * h2 * (h1 + h2)
    rnn1 = sequences * (h1 * c + (P - 1) * h1 * (c + h1))
    rnn2 = (used_h * grid[1] + grid[0] * used_w) * h2 * h1 + patches * 4 * (P - 1) * h2 * h2
    return rnn1 + rnn2


def rnnpool_fast_bytes(cfg: dict, c_in: int, pw: int) -> int:
    """rp_nn_rnnpool_fast_bytes: the fast path's row and column projections and its two prepared cells."""
    rp = cfg["rnnpool"]
    P, h1, h2 = rp["patch"], rp["hidden1"], rp["hidden2"]
    return (P * pw + P) * h2 * 4 + fastgrnn_prepared_size(c_in, h1) + fastgrnn_prepared_size(h1, h2)


def rnnpool_scratch(cfg: dict, stem: tuple[int, int, int], grid: tuple[int, int]) -> int:
    """rp_rnnpool_s8_get_buffer_size for these shapes (checked against the C function in the host tests): the
    larger of the generic path's RNN1 summaries and the fast path's bytes (+2 to a 4-byte boundary), then one
    output row."""
    rp = cfg["rnnpool"]
    used_w = (grid[1] - 1) * rp["stride"] + rp["patch"]
    generic = (rp["patch"] * grid[1] + used_w) * rp["hidden1"] * 2
    return max(generic, 2 + rnnpool_fast_bytes(cfg, stem[2], grid[1])) + grid[1] * 4 * rp["hidden2"]


def _step(layer, g):
    sh = g.shapes
    pooled_row, released = sh.rnnpool[1] * sh.rnnpool[2], layer.spec["stride"] * sh.stem[1] * sh.stem[2]
    return DeviceStep(sh.rnnpool, rnnpool_scratch(g.cfg, sh.stem, sh.patches), rnnpool_macs(g.cfg, sh.stem, sh.patches),
                      0 if pooled_row <= released else None)


def gates_shift(shift: int, n_hidden: int, hard: bool, zeta: int, nu: int) -> int | None:
    """The gate shift s + 7 to compile a cell's gates for (RP_NN_GRNN16_GATES in include/internal/rp_nn_grnn16_asm.h),
    or None when the assembly's gates would not run it: n_hidden 16, exact nonlinearities, the convex update, and
    an immediate shift (8 … 31)."""
    s7 = 6 - shift
    return s7 if n_hidden == 16 and not hard and (zeta, nu) == (16384, 0) and 8 <= s7 <= 31 else None


TANH_PAD = 128  # RP_NN_TANH_PAD (include/internal/rp_nn_rnn.h): the tanh table's copies of each end entry


def one_index(bg, bh) -> bool:
    """Whether a cell's gates can use one table index per unit (rp_fastgrnn_gates' one_index): tanh's index is
    sigmoid's minus (bg - bh) / 128 when that is an integer, and the padded tanh table covers the difference. The
    quantiser puts bg and bh on that grid (docs/numerics.md §4.2)."""
    d = np.asarray(bg, np.int64) - np.asarray(bh, np.int64)
    return bool((d % 128 == 0).all() and (np.abs(d) <= 128 * TANH_PAD).all())


def cell_gates(q, hard: bool) -> tuple[int, int] | None:
    """The compiled gates a cell gets, RP_NN_GRNN16_GATES' (S, ONE), or None: q holds the cell's arrays (w, shift,
    zeta, nu, bg, bh, as fixed_ref._p gives them)."""
    s7 = gates_shift(int(q["shift"]), int(q["w"].shape[0]), hard, int(q["zeta"]), int(q["nu"]))
    return None if s7 is None else (s7, int(one_index(q["bg"], q["bh"])))


def _fastgrnn(em, name: str, n_in: int) -> str:
    a, hard = em.a, int(em.cfg["nonlinearity"] == "hard")
    scalar = {k: int(a[qkey(name, k)]) for k in ("x_shift", "mult", "shift", "zeta", "nu")}
    n_hidden = int(a[qkey(name, "w")].shape[0])
    gates = "0"
    if (compiled := cell_gates(fx._p(a, name), bool(hard))) is not None:
        s7, one = compiled
        gname = f"rp_model_gates_{s7}" + ("_one" if one else "")
        define = f"RP_NN_GRNN16_GATES({gname}, {s7}, {one})\n"  # once per variant: RNN1 and RNN2 often share it
        if define not in em.data:
            em.data.append(define)
        gates = f"&{gname}"
    em.data.append(
        f"static const rp_fastgrnn_params {name}_p = {{.n_in = {n_in}, .n_hidden = {n_hidden}, "
        f".w = {em.arr(sub(name, 'w'))}, .x_shift = {scalar['x_shift']}, .mult = {scalar['mult']}, "
        f".shift = {scalar['shift']}, .bg = {em.arr(sub(name, 'bg'))}, .bh = {em.arr(sub(name, 'bh'))}, "
        f".zeta = {scalar['zeta']}, .nu = {scalar['nu']}, .hard = {hard}, .gates = {gates}}};\n")
    return f"{name}_p"


def _emit(em, s):
    rp = em.cfg["rnnpool"]
    r1 = _fastgrnn(em, "rnn1", em.g.tensors[s.inputs[0]].shape[2])
    r2 = _fastgrnn(em, "rnn2", rp["hidden1"])
    om, osh = int(em.a[qkey(s.name, "out_mult")]), int(em.a[qkey(s.name, "out_shift")])
    em.data.append(f"static const rp_rnnpool_params rnnpool_p = {{.patch = {rp['patch']}, .stride = "
                   f"{rp['stride']}, .rnn1 = &{r1}, .rnn2 = &{r2}, .out_mult = {om}, .out_shift = {osh}}};\n")
    em.call(s, [f"const rp_context ctx = {em.scratch(s)};",
                f"const rp_dims in = {em.dims(s.inputs[0])}, out = {em.dims(s.output)};"],
            # output rows [first, end) are patch rows but for the replicate row, which the last patch row brings
            f"rp_rnnpool_s8_rows(&ctx, &rnnpool_p, &in, {em.ptr(s.inputs[0], 'const int8_t')}, &out, "
            f"{em.ptr(s.output, 'int8_t')}, {em.rows[0]}, {em.rows[1]} < out.h ? {em.rows[1]} : out.h - 1)")


def _q(model, name: str, field: str) -> np.ndarray:
    return np.asarray(model.arrays.get(qkey(name, field), np.zeros(0, np.int64)))


def fastgrnn_prepared_size(n_in: int, n_h: int) -> int:
    """rp_nn_fastgrnn_prepared_size: the regrouped weights, then kg and kh."""
    return 4 * n_h * (((n_in + 3) >> 2) * 2 + n_h // 2) + 8 * n_h


def fastgrnn_cell_fast(n_in: int, n_h: int, shift: int, x_shift: int, biases, pixel: bool, hard: bool) -> bool:
    """Whether rp_nn_fastgrnn_prepare accepts a cell: n_hidden a multiple of 4, shift in [-31, -2] (exact
    nonlinearities: [-25, -2]), the folded biases kg, kh = 2^(s-1) + (b + 64 if exact else b) 2^s (s = -1 - shift)
    within +-2^30 exclusive, x_shift in [0, 8] for pixel input (RNN1), else 0 with n_in a multiple of 4."""
    if n_h < 4 or n_h % 4 or not -31 <= shift <= -2:
        return False
    s = -1 - shift
    if not hard and s > 24:
        return False
    folded = (1 << (s - 1)) + (np.asarray(biases, np.int64) + (0 if hard else 64)) * (1 << s)
    if (np.abs(folded) >= 1 << 30).any():
        return False
    return 0 <= x_shift <= 8 if pixel else x_shift == 0 and n_in % 4 == 0


def rnnpool_fast(model) -> bool:
    """Whether rp_rnnpool_s8 takes its prepared path, given the scratch of rp_rnnpool_s8_get_buffer_size, which
    always has room for it: whether rp_nn_fastgrnn_prepare accepts both cells' parameters."""
    rp = model.config["rnnpool"]
    h1, h2, c_in = rp["hidden1"], rp["hidden2"], model.config["stem"]["out"]
    for cell, n_in, n_h, s8 in (("rnn1", c_in, h1, True), ("rnn2", h1, h2, False)):
        shift, x_shift = int(_q(model, cell, "shift").ravel()[0]), int(_q(model, cell, "x_shift").ravel()[0])
        biases = np.concatenate([_q(model, cell, "bg").ravel(), _q(model, cell, "bh").ravel()])
        if not fastgrnn_cell_fast(n_in, n_h, shift, x_shift, biases, s8, model.config["nonlinearity"] == "hard"):
            return False
    return True


def two_index_steps(model, grid: tuple[int, int]) -> int:
    """Hidden-unit steps of the cells whose compiled gates look up two table indices per unit (not one_index): two
    instructions more each than the one-index gates (include/internal/rp_nn_grnn16_asm.h)."""
    rp, hard = model.config["rnnpool"], model.config["nonlinearity"] == "hard"
    steps = {"rnn1": _rnn1_sequences(model.config, grid) * rp["patch"] * rp["hidden1"],
             "rnn2": grid[0] * grid[1] * 4 * rp["patch"] * rp["hidden2"]}
    n = 0
    for cell, unit_steps in steps.items():
        compiled = cell_gates(fx._p(model.arrays, cell), hard)
        if compiled is not None and not compiled[1]:
            n += unit_steps
    return n


def _work(s, w):
    fast = rnnpool_fast(w.model)
    grid = (w.out[0] - 1, w.out[1] - 1)  # the output carries one replicated row and column
    generic = rnnpool_macs(w.model.config, w.src, grid, fast=False)
    return {"macs": s.macs if fast else 0, "generic_macs": 0 if fast else generic,
            "two_index_steps": two_index_steps(w.model, grid) if fast else 0}


def _edgeml_keys(layer, cfg):
    rp, out = layer.spec, {}
    for cell, n_in, n_h in (("rnn1", cfg["stem"]["out"], rp["hidden1"]), ("rnn2", rp["hidden1"], rp["hidden2"])):
        shapes = {"W": (n_in, n_h), "U": (n_h, n_h), "bias_gate": (1, n_h), "bias_update": (1, n_h),
                  "zeta": (1, 1), "nu": (1, 1)}
        out.update({f"rnn_model.{_EDGEML[cell]}.cell.{p}": s for p, s in shapes.items()})
    return out


def _from_edgeml(sd, layer):
    """FastGRNN matrices transposed to the model file's (out, in); zeta and nu kept raw (the reference applies σ)."""
    out = {}
    for cell in _CELLS:
        p = {k: sd[f"rnn_model.{_EDGEML[cell]}.cell.{k}"].astype(np.float32) for k in _RNN_PARTS}
        out.update({sub(cell, k): v for k, v in (
            ("W", p["W"].T.copy()), ("U", p["U"].T.copy()), ("bg", p["bias_gate"].reshape(-1)),
            ("bh", p["bias_update"].reshape(-1)), ("zeta", p["zeta"].reshape(())), ("nu", p["nu"].reshape(())))})
    return out


def _reference(*args):
    return ops.replicate_pad_br(fx.rnnpool_q(*args))


KIND = LayerKind("rnnpool", _step, _emit, ("macs", "generic_macs", "two_index_steps", "1"), _work, float=_float,
                 fixed=_fixed, header="internal/rp_nn_rnn.h",
                 kernels={"rnnpool": Kernel(_reference, hk.rnnpool)}, quantize=_quantize, params=_CELLS,
                 init=_init, edgeml_keys=_edgeml_keys, from_edgeml=_from_edgeml,
                 # patch row i covers stem rows stride·i … stride·i + patch − 1; the replicate-padded last row repeats
                 rows=lambda layer: RowWindow(layer.spec["patch"], layer.spec["stride"]), streams=True)
