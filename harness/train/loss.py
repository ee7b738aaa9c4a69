"""Multibox loss (SSD/S3FD, as EdgeML trains): smooth-L1 on matched priors plus cross-entropy with 3:1 hard
negative mining, both divided by the number of matched priors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEG_POS = 3


def multibox_loss(conf: torch.Tensor, loc: torch.Tensor, labels: torch.Tensor, loc_t: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """conf (B, P, 2), loc (B, P, 4), labels (B, P) int64, loc_t (B, P, 4) → (loc loss, conf loss)."""
    pos = labels > 0
    num_pos = pos.sum(dim=1, keepdim=True)
    loss_l = F.smooth_l1_loss(loc[pos], loc_t[pos], reduction="sum")
    ce = F.cross_entropy(conf.reshape(-1, 2), labels.reshape(-1), reduction="none").reshape(labels.shape)
    mining = ce.detach().clone()
    mining[pos] = 0.0
    rank = mining.argsort(dim=1, descending=True).argsort(dim=1)
    # Images without faces still contribute a few hard negatives, so they teach "no face here".
    num_neg = torch.clamp(NEG_POS * num_pos, min=NEG_POS * 4, max=pos.shape[1] - 1)
    neg = rank < num_neg
    loss_c = ce[pos | neg].sum()
    n = num_pos.sum().clamp(min=1).to(conf.dtype)
    return loss_l / n, loss_c / n
