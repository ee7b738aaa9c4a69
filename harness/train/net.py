"""RPool_Face_M4 / QVGA-mono in PyTorch for training, with EdgeML's module tree and parameter names.

Because ``state_dict()`` has EdgeML's keys, a trained net goes through the same importer as an EdgeML
checkpoint (``harness.model.edgeml.from_state_dict``). ``hard=True`` trains with the piecewise-linear
sigmoid/tanh that the fixed-point kernels can also use (EdgeML's quantSigm/quantTanh). Each block is its layer
kind's ``torch`` module (harness/model/kinds/).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.model.archs import build_config
from harness.model.kinds.l2norm import EDGEML_NAMES as L2NORM_NAMES
from harness.model.layers import block_kind, kind


def _sigmoid(x: torch.Tensor, hard: bool) -> torch.Tensor:
    return torch.clamp((x + 1.0) / 2.0, 0.0, 1.0) if hard else torch.sigmoid(x)


def _tanh(x: torch.Tensor, hard: bool) -> torch.Tensor:
    return torch.clamp(x, -1.0, 1.0) if hard else torch.tanh(x)


class FastGRNNCell(nn.Module):
    """EdgeML's FastGRNNCell (torch layout: x·W, h·U), zeta/nu kept raw as EdgeML does."""

    def __init__(self, n_in: int, n_hidden: int, hard: bool):
        super().__init__()
        self.hard = hard
        self.W = nn.Parameter(0.1 * torch.randn(n_in, n_hidden))
        self.U = nn.Parameter(0.1 * torch.randn(n_hidden, n_hidden))
        self.bias_gate = nn.Parameter(torch.ones(1, n_hidden))
        self.bias_update = nn.Parameter(torch.ones(1, n_hidden))
        self.zeta = nn.Parameter(100.0 * torch.ones(1, 1))
        self.nu = nn.Parameter(-100.0 * torch.ones(1, 1))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pre = x @ self.W + h @ self.U
        z = _sigmoid(pre + self.bias_gate, self.hard)
        c = _tanh(pre + self.bias_update, self.hard)
        return z * h + (torch.sigmoid(self.zeta) * (1.0 - z) + torch.sigmoid(self.nu)) * c

    def final_state(self, seq: torch.Tensor) -> torch.Tensor:
        """(N, T, in) → (N, h), from h0 = 0."""
        h = seq.new_zeros(seq.shape[0], self.U.shape[0])
        for t in range(seq.shape[1]):
            h = self(seq[:, t], h)
        return h


class _RNN(nn.Module):
    """Holds the cell under EdgeML's name ``cell`` (the importer ignores the ``unrollRNN`` aliases)."""

    def __init__(self, n_in: int, n_hidden: int, hard: bool):
        super().__init__()
        self.cell = FastGRNNCell(n_in, n_hidden, hard)


class RNNPool(nn.Module):
    def __init__(self, k: int, h1: int, h2: int, hard: bool):
        super().__init__()
        self.cell_rnn = _RNN(k, h1, hard)
        self.cell_bidirrnn = _RNN(h1, h2, hard)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        """Patches (N, k, r, c) → (N, 4·h2) = [rows fwd, rows bwd, cols fwd, cols bwd]."""
        n, k, r, c = p.shape
        rnn1, rnn2 = self.cell_rnn.cell, self.cell_bidirrnn.cell
        pr = rnn1.final_state(p.permute(0, 2, 3, 1).reshape(n * r, c, k)).reshape(n, r, -1)
        pc = rnn1.final_state(p.permute(0, 3, 2, 1).reshape(n * c, r, k)).reshape(n, c, -1)
        both = torch.cat([pr, pc], dim=0)                        # one RNN2 call per direction for both passes
        fwd, bwd = rnn2.final_state(both), rnn2.final_state(both.flip(1))
        return torch.cat([fwd[:n], bwd[:n], fwd[n:], bwd[n:]], dim=1)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, stride: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv = nn.Sequential(ConvBNReLU(cin, hidden, kernel=1), ConvBNReLU(hidden, hidden, 3, stride, hidden),
                                  nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class L2Norm(nn.Module):
    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.view(1, -1, 1, 1) * (x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))


class RPoolFace(nn.Module):
    def __init__(self, arch: str = "rpool-face-m4", hard: bool = False):
        super().__init__()
        cfg = build_config(arch, 240, 320)
        rp = cfg["rnnpool"]
        self.patch, self.stride = rp["patch"], rp["stride"]
        self.conv = ConvBNReLU(1, cfg["stem"]["out"], stride=cfg["stem"]["stride"])
        self.rnn_model = RNNPool(cfg["stem"]["out"], rp["hidden1"], rp["hidden2"], hard)
        self.mob = nn.ModuleList(kind(block_kind(b)).torch(b, hard) for b in cfg["blocks"])
        self.heads = [(hd["block"], L2NORM_NAMES[j] if hd["l2norm"] is not None else None)
                      for j, hd in enumerate(cfg["heads"])]
        chans = [cfg["blocks"][hd["block"]]["out"] for hd in cfg["heads"]]
        for j, hd in enumerate(cfg["heads"]):
            if hd["l2norm"] is not None:
                setattr(self, L2NORM_NAMES[j], L2Norm(chans[j], hd["l2norm"]))
        self.loc = nn.ModuleList(nn.Conv2d(c, 4, 3, padding=1) for c in chans)
        self.conf = nn.ModuleList(nn.Conv2d(c, hd["conf"], 3, padding=1) for c, hd in zip(chans, cfg["heads"]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) normalised input → conf (B, P, 2) and loc (B, P, 4), priors in EdgeML order."""
        x = self.conv(x)
        pt = x.unfold(2, self.patch, self.stride).unfold(3, self.patch, self.stride)  # (B, C, Ph, Pw, r, c)
        b, c, ph, pw = pt.shape[:4]
        pooled = self.rnn_model(pt.permute(0, 2, 3, 1, 4, 5).reshape(b * ph * pw, c, self.patch, self.patch))
        x = F.pad(pooled.reshape(b, ph, pw, -1).permute(0, 3, 1, 2), (0, 1, 0, 1), mode="replicate")
        sources = {}
        for i, block in enumerate(self.mob):
            x = block(x)
            sources[i] = x
        confs, locs = [], []
        for j, (blk, norm) in enumerate(self.heads):
            s = getattr(self, norm)(sources[blk]) if norm else sources[blk]
            conf = self.conf[j](s)
            if conf.shape[1] > 2:  # max-out background (EdgeML head 0)
                conf = torch.cat([conf[:, :-1].amax(dim=1, keepdim=True), conf[:, -1:]], dim=1)
            confs.append(conf.permute(0, 2, 3, 1).reshape(b, -1, 2))
            locs.append(self.loc[j](s).permute(0, 2, 3, 1).reshape(b, -1, 4))
        return torch.cat(confs, dim=1), torch.cat(locs, dim=1)

    def numpy_state_dict(self) -> dict:
        return {k: v.detach().cpu().float().numpy() for k, v in self.state_dict().items()}
