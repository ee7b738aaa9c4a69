"""Random-weight models with realistic activation ranges, for tests and for exercising codegen.

Weights are He-initialised; each folded BatchNorm is then set from data (as BN would be after training): every
channel's pre-activation is normalised over synthetic images to a random mean and spread, so ReLU6 layers use
their range instead of saturating or dying. RNN parameters follow EdgeML's initialisation (0.1·randn matrices,
ζ = 100, ν = −100) with random biases.
"""

from __future__ import annotations

import numpy as np

from harness.model import float_ref as fr
from harness.model.archs import build_config
from harness.model.layers import kind, network, sub
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


class InitCtx:
    """What a kind's ``init`` sees: the description, the random generator, the arrays made so far (it adds its
    own) and ``conv_layer``."""

    def __init__(self, cfg: dict, rng, hard: bool):
        self.cfg, self.rng, self.hard = cfg, rng, hard
        self.arrays: dict[str, np.ndarray] = {}

    def he(self, o, i, k):
        return (self.rng.normal(0, np.sqrt(2.0 / (i * k * k)), size=(o, i, k, k))).astype(F32)

    def conv_layer(self, name, xs, o, k, stride, mean_rng, std_rng, depthwise=False):
        """A conv ``name`` with He weights, then rescaled to random per-channel statistics over ``xs`` (one input
        tensor per calibration image); returns its pre-activation outputs."""
        i = 1 if depthwise else xs[0].shape[-1]
        w, b = self.he(o, i, k), np.zeros(o, F32)
        if k == 1:  # no weight row may point along the inputs' mean: huge cancelling biases are untypical
            mu = np.concatenate([x.reshape(-1, i) for x in xs]).mean(axis=0)
            w2 = w[:, :, 0, 0]
            w[:, :, 0, 0] = w2 - np.outer(w2 @ mu, mu) / max(float(mu @ mu), 1e-12)
        run = (lambda x, w, b: fr.depthwise3x3(x, w, b, stride)) if depthwise else \
            (lambda x, w, b: fr.conv2d(x, w, b, stride))
        w, b = _normalise([run(x, w, b) for x in xs], w, b, self.rng, mean_rng, std_rng)
        self.arrays[sub(name, "w")], self.arrays[sub(name, "b")] = w, b
        return [run(x, w, b) for x in xs]


def random_model(arch: str = "rpool-face-m4", seed: int = 0, height: int = 240, width: int = 320,
                 nonlinearity: str = "exact", calib: int = 2) -> Model:
    """Every layer of ``layers.network`` through its kind's ``init`` (a kind without one has no parameters: its
    float op runs), in the references' order, all drawing from one generator."""
    cfg = build_config(arch, height, width, nonlinearity)
    ctx = InitCtx(cfg, np.random.default_rng(seed), nonlinearity == "hard")
    values = {"input": synthetic_images(height, width, calib, seed=seed + 1000)}
    for layer in network(cfg):
        k = kind(layer.kind)
        xs = [values[i] for i in layer.inputs]
        if k.init is not None:
            values[layer.name] = k.init(layer, xs, ctx)
        elif k.float is not None:
            fc = fr.FloatCtx(cfg, ctx.arrays, ctx.hard)
            values[layer.name] = [k.float(layer, list(x), fc)[layer.name] for x in zip(*xs)]
    return Model.create(cfg, ctx.arrays)
