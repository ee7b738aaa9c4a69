"""Architecture descriptions of the RNNPool face detectors, and the shapes they imply.

An architecture is plain data (JSON-able): the model file stores it verbatim, so every later stage (reference,
codegen, firmware) reads the same description. ``build_config`` instantiates one for an input size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from harness.errors import UsageError
from harness.model.layers import block_kind, kind


def _block(cin: int, hidden: int, cout: int, stride: int = 1) -> dict:
    return {"in": cin, "hidden": hidden, "out": cout, "stride": stride,
            "residual": stride == 1 and cin == cout}


# EdgeML RPool_Face_M4: 4 MBConv blocks, heads on every block output (notes §2).
_M4 = {
    "blocks": [_block(64, 128, 32), _block(32, 64, 32), _block(32, 64, 64, 2), _block(64, 128, 64)],
    "heads": [
        {"block": 0, "l2norm": 10.0, "conf": 4},
        {"block": 1, "l2norm": 8.0, "conf": 2},
        {"block": 2, "l2norm": 5.0, "conf": 2},
        {"block": 3, "l2norm": None, "conf": 2},
    ],
}

# EdgeML RPool_Face_QVGA_monochrome: 14 MBConv blocks, heads on B4, B8, B11, B14 (1-based).
_QVGA = {
    "blocks": ([_block(64, 128, 32)] + [_block(32, 64, 32)] * 7 + [_block(32, 64, 96, 2)]
               + [_block(96, 192, 96)] * 2 + [_block(96, 192, 128)] + [_block(128, 256, 128)] * 2),
    "heads": [
        {"block": 3, "l2norm": 10.0, "conf": 4},
        {"block": 7, "l2norm": 8.0, "conf": 2},
        {"block": 10, "l2norm": 5.0, "conf": 2},
        {"block": 13, "l2norm": None, "conf": 2},
    ],
}

_COMMON = {
    "input": {"channels": 1},
    # EdgeML subtracts the BGR means then converts to grey: x = Y - 117.312 (docs/notes/edgeml-checkpoint.md).
    "normalization": {"mean": 117.312, "scale": 1.0},
    "stem": {"out": 4, "kernel": 3, "stride": 2, "act": "relu6"},
    "rnnpool": {"patch": 8, "stride": 4, "hidden1": 16, "hidden2": 16},
    "nonlinearity": "exact",
    "priors": {"steps": [8, 8, 16, 16], "sizes": [8, 16, 32, 48], "variance": [0.1, 0.2], "clip": False},
    "detection": {"conf_thresh": 0.05, "nms_thresh": 0.3, "nms_top_k": 5000, "top_k": 750,
                  "score_thresh": 0.5},
}

ARCHS = {"rpool-face-m4": _M4, "rpool-face-qvga-mono": _QVGA}
DEFAULT_INPUT = (240, 320)  # (height, width): QVGA


def build_config(arch: str, height: int = DEFAULT_INPUT[0], width: int = DEFAULT_INPUT[1],
                 nonlinearity: str = "exact") -> dict:
    """Return the full JSON-able description of ``arch`` at ``height``×``width``."""
    if arch not in ARCHS:
        raise UsageError(f"unknown architecture {arch!r}; choose one of: {', '.join(sorted(ARCHS))}")
    if nonlinearity not in ("exact", "hard"):
        raise UsageError(f"unknown nonlinearity {nonlinearity!r}; choose 'exact' or 'hard'")
    cfg = copy.deepcopy(_COMMON)
    cfg.update(copy.deepcopy(ARCHS[arch]))
    cfg["format"] = "harness-model/1"
    cfg["arch"] = arch
    cfg["input"].update({"height": int(height), "width": int(width)})
    cfg["nonlinearity"] = nonlinearity
    shapes(cfg)  # validates that the size is large enough
    return cfg


@dataclass(frozen=True)
class Shapes:
    """Tensor shapes (H, W, C) of one architecture at one input size."""

    image: tuple[int, int, int]
    stem: tuple[int, int, int]
    patches: tuple[int, int]          # RNNPool patch grid before replicate padding
    rnnpool: tuple[int, int, int]     # after replicate padding (+1 row, +1 column)
    blocks: tuple[tuple[int, int, int], ...]
    heads: tuple[tuple[int, int, int], ...]  # the head input (source) shapes


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def shapes(cfg: dict) -> Shapes:
    h, w = cfg["input"]["height"], cfg["input"]["width"]
    st = cfg["stem"]
    sh, sw = conv_out(h, st["kernel"], st["stride"], 1), conv_out(w, st["kernel"], st["stride"], 1)
    rp = cfg["rnnpool"]
    ph, pw = (sh - rp["patch"]) // rp["stride"] + 1, (sw - rp["patch"]) // rp["stride"] + 1
    if min(ph, pw) < 1:
        raise UsageError(f"input {w}x{h} is too small for {cfg['arch']}: the stem output {sw}x{sh} holds no "
                         f"{rp['patch']}x{rp['patch']} RNNPool patch")
    cur = (ph + 1, pw + 1, 4 * rp["hidden2"])
    pooled = cur
    blocks = []
    for b in cfg["blocks"]:
        if b["in"] != cur[2]:
            raise UsageError(f"architecture {cfg['arch']}: block input {b['in']} != previous output {cur[2]}")
        cur = tuple(kind(block_kind(b)).shape(b, cur))
        blocks.append(cur)
    heads = tuple(blocks[hd["block"]] for hd in cfg["heads"])
    return Shapes((h, w, cfg["input"]["channels"]), (sh, sw, st["out"]), (ph, pw), pooled, tuple(blocks), heads)


def num_priors(cfg: dict) -> int:
    return sum(s[0] * s[1] for s in shapes(cfg).heads)
