"""An independent PyTorch twin of EdgeML's RPool_Face_M4 and RPool_Face_QVGA_monochrome, for import tests.

The module tree mirrors EdgeML's (``examples/pytorch/vision/Face_Detection/models/RPool_Face_*.py``,
``edgeml_pytorch/graph/{rnnpool,rnn}.py``) so that ``state_dict()`` has EdgeML's exact keys, including the
FastGRNN cells registered twice (``cell`` and ``unrollRNN.RNNCell``/``RNNCell_reverse``) and the BatchNorm buffers.
The forward pass is written afresh (vectorised RNNPool, no unfold/fold round trip); it follows the semantics in
docs/notes/edgeml-rnnpool.md and was checked against EdgeML's own classes.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 117.312  # EdgeML: BGR mean subtraction then grey conversion = Y - 117.312

# EdgeML's MobileNetV2 settings (t, c, n, s), the channel count after RNNPool, and the heads:
# (index of the block whose output feeds the head, L2Norm module name or None, L2Norm init).
ARCHS = {
    "rpool-face-m4": {
        "setting": [(2, 32, 1, 1), (2, 32, 1, 1), (2, 64, 1, 2), (2, 64, 1, 1)],
        "heads": [(0, "L2Norm3_3", 10.0), (1, "L2Norm4_3", 8.0), (2, "L2Norm5_3", 5.0), (3, None, None)],
    },
    "rpool-face-qvga-mono": {
        "setting": [(2, 32, 4, 1), (2, 32, 4, 1), (2, 96, 3, 2), (2, 128, 3, 1)],
        "heads": [(3, "L2Norm3_3", 10.0), (7, "L2Norm4_3", 8.0), (10, "L2Norm5_3", 5.0), (13, None, None)],
    },
}


class FastGRNNCell(nn.Module):
    """h' = z⊙h + (σ(ζ)(1−z) + σ(ν))⊙tanh(pre + b_h), z = σ(pre + b_g), pre = xW + hU (torch layout)."""

    def __init__(self, n_in: int, n_hidden: int):
        super().__init__()
        self.W = nn.Parameter(0.1 * torch.randn(n_in, n_hidden))
        self.U = nn.Parameter(0.1 * torch.randn(n_hidden, n_hidden))
        self.bias_gate = nn.Parameter(torch.ones(1, n_hidden))
        self.bias_update = nn.Parameter(torch.ones(1, n_hidden))
        self.zeta = nn.Parameter(100.0 * torch.ones(1, 1))
        self.nu = nn.Parameter(-100.0 * torch.ones(1, 1))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pre = x @ self.W + h @ self.U
        z = torch.sigmoid(pre + self.bias_gate)
        c = torch.tanh(pre + self.bias_update)
        return z * h + (torch.sigmoid(self.zeta) * (1.0 - z) + torch.sigmoid(self.nu)) * c


class _Unroll(nn.Module):
    """Holds EdgeML's BaseRNN registrations only; FastGRNN below does the unrolling."""

    def __init__(self, cell: FastGRNNCell, bidirectional: bool):
        super().__init__()
        self.RNNCell = cell
        if bidirectional:
            self.RNNCell_reverse = cell  # is_shared_bidirectional: the very same cell


class FastGRNN(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, bidirectional: bool = False):
        super().__init__()
        self.bidirectional = bidirectional
        self.cell = FastGRNNCell(n_in, n_hidden)
        self.unrollRNN = _Unroll(self.cell, bidirectional)

    def final_state(self, seq: torch.Tensor) -> torch.Tensor:
        """(N, T, in) → final hidden state (N, h); bidirectional: [forward final, backward final] (N, 2h)."""
        def run(s):
            h = s.new_zeros(s.shape[0], self.cell.U.shape[0])
            for t in range(s.shape[1]):
                h = self.cell(s[:, t], h)
            return h
        if not self.bidirectional:
            return run(seq)
        return torch.cat([run(seq), run(seq.flip(1))], dim=1)


class RNNPool(nn.Module):
    def __init__(self, n_rows: int, n_cols: int, h1: int, h2: int, k: int):
        super().__init__()
        self.n_rows, self.n_cols = n_rows, n_cols
        self.cell_rnn = FastGRNN(k, h1)
        self.cell_bidirrnn = FastGRNN(h1, h2, bidirectional=True)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        """Patches (N, k, r, c) → (N, 4·h2) = [rows fwd, rows bwd, cols fwd, cols bwd]."""
        n, k, r, c = p.shape
        rows = p.permute(0, 2, 3, 1).reshape(n * r, c, k)   # each row, read left → right
        cols = p.permute(0, 3, 2, 1).reshape(n * c, r, k)   # each column, read top → bottom
        pr = self.cell_rnn.final_state(rows).reshape(n, r, -1)
        pc = self.cell_rnn.final_state(cols).reshape(n, c, -1)
        return torch.cat([self.cell_bidirrnn.final_state(pr), self.cell_bidirrnn.final_state(pc)], dim=1)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hid = cin * t
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(ConvBNReLU(cin, hid, kernel=1), ConvBNReLU(hid, hid, stride=stride, groups=hid),
                                  nn.Conv2d(hid, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class L2Norm(nn.Module):
    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.view(1, -1, 1, 1) * (x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))


class RPoolFace(nn.Module):
    def __init__(self, arch: str):
        super().__init__()
        spec = ARCHS[arch]
        self.conv = ConvBNReLU(1, 4, stride=2)
        self.rnn_model = RNNPool(8, 8, 16, 16, 4)
        blocks, cin = [], 64
        for t, c, n, s in spec["setting"]:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.mob = nn.ModuleList(blocks)
        self.head_blocks = [b for b, _, _ in spec["heads"]]
        self.norm_names = [name for _, name, _ in spec["heads"]]
        chans = [blocks[b].conv[2].out_channels for b in self.head_blocks]
        for (_, name, scale), ch in zip(spec["heads"], chans):
            if name is not None:
                setattr(self, name, L2Norm(ch, scale))
        self.loc = nn.ModuleList([nn.Conv2d(ch, 4, 3, padding=1) for ch in chans])
        self.conf = nn.ModuleList([nn.Conv2d(ch, 4 if j == 0 else 2, 3, padding=1) for j, ch in enumerate(chans)])

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(1, 1, H, W) → per-head (conf, loc) lists, NCHW, head-0 conf already max-out (2 channels)."""
        x = self.conv(x)
        pt = x.unfold(2, 8, 4).unfold(3, 8, 4)                 # (B, C, Ph, Pw, 8, 8)
        b, c, ph, pw = pt.shape[:4]
        pooled = self.rnn_model(pt.permute(0, 2, 3, 1, 4, 5).reshape(b * ph * pw, c, 8, 8))
        x = pooled.reshape(b, ph, pw, -1).permute(0, 3, 1, 2)
        x = F.pad(x, (0, 1, 0, 1), mode="replicate")
        sources = []
        for i, block in enumerate(self.mob):
            x = block(x)
            if i in self.head_blocks:
                name = self.norm_names[self.head_blocks.index(i)]
                sources.append(getattr(self, name)(x) if name else x)
        confs, locs = [], []
        for j, s in enumerate(sources):
            conf = self.conf[j](s)
            if j == 0:
                conf = torch.cat([conf[:, :3].amax(dim=1, keepdim=True), conf[:, 3:]], dim=1)
            confs.append(conf)
            locs.append(self.loc[j](s))
        return confs, locs


def _calibration_image(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = 128 + 90 * np.sin(xx / 23.0) * np.cos(yy / 17.0)
    return np.clip(smooth + rng.normal(0, 30, (h, w)), 0, 255).astype(np.uint8)


def make_model(arch: str, seed: int = 0, zeta_nu: tuple[float, float] | None = None) -> RPoolFace:
    """An eval-mode twin with random weights and random BN statistics, scaled so activations stay in range.

    Every BatchNorm gets running statistics near the ones a calibration image produces (then perturbed), and a
    random affine part; ReLU6 layers therefore see a mix of zero, linear and clipped values.
    """
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the caller's global RNG alone
        torch.manual_seed(seed)
        model = RPoolFace(arch)

    def rand(*shape, lo=-1.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.5 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(rand(m.bias.shape, lo=-0.5, hi=0.5))
            elif isinstance(m, FastGRNNCell):
                m.W.copy_(torch.randn(m.W.shape, generator=g) * 0.4)
                m.U.copy_(torch.randn(m.U.shape, generator=g) * 0.3)
                m.bias_gate.copy_(torch.randn(m.bias_gate.shape, generator=g) * 0.5)
                m.bias_update.copy_(torch.randn(m.bias_update.shape, generator=g) * 0.5)
                if zeta_nu is not None:
                    m.zeta.fill_(zeta_nu[0])
                    m.nu.fill_(zeta_nu[1])
            elif isinstance(m, L2Norm):
                m.weight.mul_(rand(m.weight.shape, lo=0.5, hi=1.5))

    followed_by_relu = set()
    for seq in model.modules():
        if isinstance(seq, ConvBNReLU):
            followed_by_relu.add(seq[1])

    def calibrate(bn: nn.BatchNorm2d, args):
        x = args[0].detach()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3)) + 1e-3
        c = mean.numel()
        bn.running_mean.copy_(mean + 0.2 * var.sqrt() * rand(c))
        bn.running_var.copy_(var * rand(c, lo=0.6, hi=1.6))
        if bn in followed_by_relu:  # centre most channels inside (0, 6)
            bn.weight.copy_(rand(c, lo=1.0, hi=2.5))
            bn.bias.copy_(rand(c, lo=0.5, hi=3.5))
        else:
            bn.weight.copy_(rand(c, lo=0.5, hi=1.5))
            bn.bias.copy_(rand(c, lo=-0.5, hi=0.5))

    model.eval()
    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model(_input(_calibration_image(120, 160, rng)))
    for hk in hooks:
        hk.remove()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.num_batches_tracked.fill_(1000)
    return model


def _input(y_u8: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(y_u8, dtype=np.float64) - MEAN).to(dtype)
    return x.reshape(1, 1, *y_u8.shape)


def raw_outputs(model: RPoolFace, y_u8: np.ndarray) -> np.ndarray:
    """EdgeML's raw vector for one grey image: conf of every head then loc of every head, each HWC-flattened.

    Evaluated in float64 (a copy of the float32 weights), so it is the exact maths of the checkpoint.
    """
    m64 = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        confs, locs = m64(_input(y_u8, torch.float64))
    flat = [t[0].permute(1, 2, 0).reshape(-1) for t in confs + locs]
    return torch.cat(flat).numpy().astype(np.float32)


def activation_stats(model: RPoolFace, y_u8: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Per ReLU6 / RNNPool / head output: (fraction == 0, fraction == 6, max |x|) — to check the random init."""
    stats, hooks = {}, []
    for name, m in model.named_modules():
        if isinstance(m, (nn.ReLU6, RNNPool, L2Norm, InvertedResidual)) or (name.startswith(("loc.", "conf."))):
            def hook(mod, args, out, name=name):
                o = out.detach()
                stats[name] = (float((o == 0).float().mean()), float((o == 6).float().mean()), float(o.abs().max()))
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(_input(y_u8))
    for hk in hooks:
        hk.remove()
    return stats
