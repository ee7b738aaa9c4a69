"""Random-weight models with realistic activation ranges, for tests and for exercising codegen.

Weights are He-initialised; each folded BatchNorm is then set from data (as BN would be after training): every
channel's pre-activation is normalised over synthetic images to a random mean and spread, so ReLU6 layers use
their range instead of saturating or dying. RNN parameters follow EdgeML's initialisation (0.1·randn matrices,
ζ = 100, ν = −100) with random biases.
"""

from __future__ import annotations

import numpy as np

from harness.model import float_ref as fr
from harness.model import ops
from harness.model.archs import build_config
from harness.model.modelfile import Model
from harness.model.synthetic import synthetic_images

F32 = np.float32


def _normalise(outs: list[np.ndarray], w: np.ndarray, b: np.ndarray, rng, mean_rng, std_rng):
    """Rescale conv (w, b) so each output channel has a random mean/std over ``outs`` (pre-activation)."""
    cat = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs])
    mu, sd = cat.mean(axis=0), cat.std(axis=0) + 1e-6
    # One gain per layer (not per channel): per-channel gains would blow up quantisation noise in
    # near-constant channels, which trained networks do not do.
    tgt_mu, tgt_sd = rng.uniform(*mean_rng, size=mu.shape), rng.uniform(*std_rng)
    gain = np.full(mu.shape, tgt_sd / np.sqrt((sd * sd).mean()))
    return (w * gain.reshape(-1, *([1] * (w.ndim - 1)))).astype(F32), ((b - mu) * gain + tgt_mu).astype(F32)


def random_model(arch: str = "rpool-face-m4", seed: int = 0, height: int = 240, width: int = 320,
                 nonlinearity: str = "exact", calib: int = 2) -> Model:
    cfg = build_config(arch, height, width, nonlinearity)
    rng = np.random.default_rng(seed)
    imgs = synthetic_images(height, width, calib, seed=seed + 1000)
    a: dict[str, np.ndarray] = {}

    def he(o, i, k):
        return (rng.normal(0, np.sqrt(2.0 / (i * k * k)), size=(o, i, k, k))).astype(F32)

    def conv_layer(name, xs, o, k, stride, mean_rng, std_rng, depthwise=False):
        i = 1 if depthwise else xs[0].shape[-1]
        w, b = he(o, i, k), np.zeros(o, F32)
        if k == 1:  # no weight row may point along the inputs' mean: huge cancelling biases are untypical
            mu = np.concatenate([x.reshape(-1, i) for x in xs]).mean(axis=0)
            w2 = w[:, :, 0, 0]
            w[:, :, 0, 0] = w2 - np.outer(w2 @ mu, mu) / max(float(mu @ mu), 1e-12)
        run = (lambda x, w, b: fr.depthwise3x3(x, w, b, stride)) if depthwise else \
            (lambda x, w, b: fr.conv2d(x, w, b, stride))
        w, b = _normalise([run(x, w, b) for x in xs], w, b, rng, mean_rng, std_rng)
        a[f"{name}.w"], a[f"{name}.b"] = w, b
        return [run(x, w, b) for x in xs]

    xs = [fr.normalize(cfg, im) for im in imgs]
    xs = [fr.relu6(t) for t in conv_layer("stem", xs, cfg["stem"]["out"], 3, cfg["stem"]["stride"], (0.5, 2.5),
                                          (0.8, 2.0))]
    rp = cfg["rnnpool"]
    for name, nin, nh in (("rnn1", cfg["stem"]["out"], rp["hidden1"]), ("rnn2", rp["hidden1"], rp["hidden2"])):
        a[f"{name}.W"] = (0.3 * rng.standard_normal((nh, nin)) / np.sqrt(nin)).astype(F32)
        a[f"{name}.U"] = (0.1 * rng.standard_normal((nh, nh))).astype(F32)
        a[f"{name}.bg"] = rng.normal(0.0, 0.5, nh).astype(F32)
        a[f"{name}.bh"] = rng.normal(0.0, 0.5, nh).astype(F32)
        a[f"{name}.zeta"], a[f"{name}.nu"] = np.array(100.0, F32), np.array(-100.0, F32)
    hard = nonlinearity == "hard"
    p1, p2 = fr.rnn_params(a, "rnn1"), fr.rnn_params(a, "rnn2")
    xs = [ops.replicate_pad_br(fr.rnnpool(x, p1, p2, rp["patch"], rp["stride"], hard)) for x in xs]
    outs = {}
    for i, blk in enumerate(cfg["blocks"]):
        e = [fr.relu6(t) for t in conv_layer(f"mb{i}.expand", xs, blk["hidden"], 1, 1, (0.5, 2.0), (0.8, 1.8))]
        d = [fr.relu6(t) for t in conv_layer(f"mb{i}.dw", e, blk["hidden"], 3, blk["stride"], (0.5, 2.0),
                                             (0.8, 1.8), depthwise=True)]
        p = conv_layer(f"mb{i}.project", d, blk["out"], 1, 1, (-0.5, 0.5), (0.5, 1.0))
        xs = [x + y for x, y in zip(xs, p)] if blk["residual"] else p
        outs[i] = xs
    for j, hd in enumerate(cfg["heads"]):
        src = outs[hd["block"]]
        if hd["l2norm"] is not None:
            a[f"l2norm{j}.w"] = np.full(src[0].shape[-1], hd["l2norm"], F32)
            src = [fr.l2norm(s, a[f"l2norm{j}.w"]) for s in src]
        conv_layer(f"head{j}.conf", src, hd["conf"], 3, 1, (-1.0, 1.0), (1.0, 2.5))
        conv_layer(f"head{j}.loc", src, 4, 3, 1, (-0.3, 0.3), (0.3, 0.8))
    return Model.create(cfg, a)
