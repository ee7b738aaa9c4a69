"""Layout helpers shared by the float and fixed-point references (HWC tensors, OHWI weights)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x: np.ndarray, k: int, stride: int, pad: int, dtype=None) -> np.ndarray:
    """(H, W, C) → (Ho·Wo, k·k·C) with zero padding; column order (kh, kw, c) matches OHWI weights."""
    if pad:
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    win = sliding_window_view(x, (k, k), axis=(0, 1))[::stride, ::stride]  # (Ho, Wo, C, kh, kw)
    ho, wo = win.shape[:2]
    cols = win.transpose(0, 1, 3, 4, 2).reshape(ho * wo, -1)
    return cols.astype(dtype, copy=False) if dtype is not None else cols


def out_size(n: int, k: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - k) // stride + 1


def depthwise_taps(x: np.ndarray, stride: int, pad: int = 1, k: int = 3):
    """Yield ((dy, dx), view) for each tap of a k×k depthwise window over zero-padded HWC ``x``."""
    h, w = x.shape[:2]
    ho, wo = out_size(h, k, stride, pad), out_size(w, k, stride, pad)
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    for dy in range(k):
        for dx in range(k):
            yield (dy, dx), xp[dy:dy + stride * (ho - 1) + 1:stride, dx:dx + stride * (wo - 1) + 1:stride]


def rnn1_sequences(x: np.ndarray, patch: int, stride: int):
    """The distinct RNN1 input sequences of RNNPool over HWC ``x``.

    Patches overlap (stride < patch), so patch (i, j)'s row r is the same pixel run as patch (i+1, j)'s row
    r − stride: every row sequence is a (stem row, patch column) pair and every column sequence a (patch row,
    stem column) pair. Running each once halves RNN1's work. Returns (rows (Hu·Pw, patch, C) left→right,
    cols (Ph·Wu, patch, C) top→bottom, grid) for :func:`rnn1_summaries`.
    """
    ph, pw = (x.shape[0] - patch) // stride + 1, (x.shape[1] - patch) // stride + 1
    hu, wu = (ph - 1) * stride + patch, (pw - 1) * stride + patch
    rows = sliding_window_view(x[:hu], patch, axis=1)[:, ::stride].transpose(0, 1, 3, 2)  # (Hu, Pw, patch, C)
    cols = sliding_window_view(x[:, :wu], patch, axis=0)[::stride].transpose(0, 1, 3, 2)  # (Ph, Wu, patch, C)
    c = x.shape[2]
    return rows.reshape(-1, patch, c), cols.reshape(-1, patch, c), (ph, pw, hu, wu, patch, stride)


def rnn1_summaries(row_h: np.ndarray, col_h: np.ndarray, grid) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch RNN1 summaries from the distinct sequences' final states: (N, patch, h) rows and columns."""
    ph, pw, hu, wu, patch, stride = grid
    h = row_h.shape[-1]
    idx_r = stride * np.arange(ph)[:, None] + np.arange(patch)
    pr = row_h.reshape(hu, pw, h)[idx_r].transpose(0, 2, 1, 3)            # (Ph, Pw, patch, h)
    idx_c = stride * np.arange(pw)[:, None] + np.arange(patch)
    pc = col_h.reshape(ph, wu, h)[:, idx_c]                                # (Ph, Pw, patch, h)
    return pr.reshape(ph * pw, patch, h), pc.reshape(ph * pw, patch, h)


def rnn2_sequences(pr: np.ndarray, pc: np.ndarray) -> np.ndarray:
    """RNN2's four sequences per patch, (N·4, patch, h1): rows fwd, rows bwd, cols fwd, cols bwd."""
    seq = np.stack([pr, pr[:, ::-1], pc, pc[:, ::-1]], axis=1)
    return seq.reshape(-1, pr.shape[1], pr.shape[2])


def replicate_pad_br(x: np.ndarray) -> np.ndarray:
    """Copy the last row and column once: EdgeML's F.pad(..., (0, 1, 0, 1), 'replicate')."""
    return np.pad(x, ((0, 1), (0, 1), (0, 0)), mode="edge")


def raw_vector(confs: list[np.ndarray], locs: list[np.ndarray]) -> np.ndarray:
    """EdgeML's raw output order: conf of all heads (HWC, after max-out) then loc of all heads."""
    return np.concatenate([c.reshape(-1) for c in confs] + [l.reshape(-1) for l in locs])


def maxout(conf: np.ndarray) -> np.ndarray:
    """Head-0 max-out: background = max of channels 0..n-2, face = the last channel."""
    if conf.shape[-1] == 2:
        return conf
    return np.stack([conf[..., :-1].max(axis=-1), conf[..., -1]], axis=-1)
