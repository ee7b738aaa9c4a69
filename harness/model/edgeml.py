"""Import a trained EdgeML RNNPool-Face checkpoint (PyTorch) into a harness model.

EdgeML's ``train.py`` saves ``net.state_dict()`` (keys prefixed ``module.`` when trained under ``nn.DataParallel``);
the models' own ``load_weights`` expects ``{'weight': state_dict, 'epoch': n}``. All three forms are accepted.
Key names and layouts: the shared note edgeml-checkpoint.md. Every BatchNorm (eval mode, eps 1e-5) is folded
into the bias-free convolution before it; FastGRNN matrices are transposed to the (out, in) layout of the model
file (see ``harness.model.modelfile``). zeta and nu are kept raw: the reference applies the sigmoid.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np

from harness.errors import CheckpointError, DependencyError, InputError
from harness.model.archs import ARCHS, build_config
from harness.model.modelfile import Model

BN_EPS = 1e-5
_BN_PARTS = ("weight", "bias", "running_mean", "running_var")
_RNN_PARTS = ("W", "U", "bias_gate", "bias_update", "zeta", "nu")
_L2NORM_KEYS = ("L2Norm3_3", "L2Norm4_3", "L2Norm5_3")  # EdgeML's names for heads 0, 1, 2


def _expected(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor key an EdgeML checkpoint of this architecture must hold, with its shape."""
    exp: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        exp.update({f"{prefix}.{p}": (c,) for p in _BN_PARTS})

    stem = cfg["stem"]["out"]
    exp["conv.0.weight"] = (stem, 1, 3, 3)
    bn("conv.1", stem)
    rp = cfg["rnnpool"]
    for name, n_in, n_h in (("cell_rnn", stem, rp["hidden1"]), ("cell_bidirrnn", rp["hidden1"], rp["hidden2"])):
        shapes = {"W": (n_in, n_h), "U": (n_h, n_h), "bias_gate": (1, n_h), "bias_update": (1, n_h),
                  "zeta": (1, 1), "nu": (1, 1)}
        exp.update({f"rnn_model.{name}.cell.{p}": s for p, s in shapes.items()})
    for i, b in enumerate(cfg["blocks"]):
        m = f"mob.{i}.conv"
        exp[f"{m}.0.0.weight"] = (b["hidden"], b["in"], 1, 1)
        bn(f"{m}.0.1", b["hidden"])
        exp[f"{m}.1.0.weight"] = (b["hidden"], 1, 3, 3)
        bn(f"{m}.1.1", b["hidden"])
        exp[f"{m}.2.weight"] = (b["out"], b["hidden"], 1, 1)
        bn(f"{m}.3", b["out"])
    for j, hd in enumerate(cfg["heads"]):
        c = cfg["blocks"][hd["block"]]["out"]
        if hd["l2norm"] is not None:
            exp[f"{_L2NORM_KEYS[j]}.weight"] = (c,)
        exp[f"loc.{j}.weight"], exp[f"loc.{j}.bias"] = (4, c, 3, 3), (4,)
        exp[f"conf.{j}.weight"], exp[f"conf.{j}.bias"] = (hd["conf"], c, 3, 3), (hd["conf"],)
    return exp


def _aliases(key: str) -> list[str]:
    """Other names under which EdgeML registers the same FastGRNN cell (BaseRNN keeps a reference to it)."""
    if not key.startswith("rnn_model.") or ".cell." not in key:
        return []
    base = key.replace(".cell.", ".unrollRNN.RNNCell.")
    return [base, base.replace(".RNNCell.", ".RNNCell_reverse.")] if "cell_bidirrnn" in key else [base]


def _unwrap(obj, path: Path) -> dict[str, np.ndarray]:
    if isinstance(obj, dict) and "weight" in obj and isinstance(obj["weight"], dict):
        obj = obj["weight"]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path} holds no state dict (expected a dict of tensors, a DataParallel state dict "
                              "or {'weight': state_dict, 'epoch': n})")
    sd = {}
    for key, value in obj.items():
        if not hasattr(value, "detach"):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        name = key[len("module."):] if isinstance(key, str) and key.startswith("module.") else key
        sd[name] = value.detach().cpu().float().numpy()
    return sd


def _problems(sd: dict[str, np.ndarray], cfg: dict) -> list[str]:
    """Mismatches between a state dict and an architecture, most telling first (empty if it fits)."""
    exp = _expected(cfg)
    out = []
    for key, shape in exp.items():
        if key not in sd:
            out.append(f"key {key} is missing (expected shape {shape})")
        elif tuple(sd[key].shape) != shape:
            out.append(f"{key} has shape {tuple(sd[key].shape)}, expected {shape}")
    known = set(exp) | {a for k in exp for a in _aliases(k)}
    known |= {k.rsplit(".", 1)[0] + ".num_batches_tracked" for k in exp if k.endswith(".running_var")}
    extra = sorted((k for k in sd if k not in known), key=str)
    if extra:
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        out.append(f"unexpected keys {', '.join(map(str, extra[:3]))}{more}")
    return out


def _fold(sd: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold eval-mode BatchNorm ``bn`` into the bias-free convolution ``conv``: returns (w', b')."""
    w = sd[f"{conv}.weight"].astype(np.float64)
    gamma, beta, mean, var = (sd[f"{bn}.{p}"].astype(np.float64) for p in _BN_PARTS)
    scale = gamma / np.sqrt(var + BN_EPS)
    return ((w * scale[:, None, None, None]).astype(np.float32),
            (beta - mean * scale).astype(np.float32))


def _rnn(sd: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    p = {k: sd[f"rnn_model.{name}.cell.{k}"].astype(np.float32) for k in _RNN_PARTS}
    return {"W": p["W"].T.copy(), "U": p["U"].T.copy(), "bg": p["bias_gate"].reshape(-1),
            "bh": p["bias_update"].reshape(-1), "zeta": p["zeta"].reshape(()), "nu": p["nu"].reshape(())}


def _arrays(sd: dict[str, np.ndarray], cfg: dict) -> dict[str, np.ndarray]:
    a: dict[str, np.ndarray] = {}
    a["stem.w"], a["stem.b"] = _fold(sd, "conv.0", "conv.1")
    for j, name in (("rnn1", "cell_rnn"), ("rnn2", "cell_bidirrnn")):
        a.update({f"{j}.{k}": v for k, v in _rnn(sd, name).items()})
    for i in range(len(cfg["blocks"])):
        m = f"mob.{i}.conv"
        a[f"mb{i}.expand.w"], a[f"mb{i}.expand.b"] = _fold(sd, f"{m}.0.0", f"{m}.0.1")
        a[f"mb{i}.dw.w"], a[f"mb{i}.dw.b"] = _fold(sd, f"{m}.1.0", f"{m}.1.1")
        a[f"mb{i}.project.w"], a[f"mb{i}.project.b"] = _fold(sd, f"{m}.2", f"{m}.3")
    for j, hd in enumerate(cfg["heads"]):
        if hd["l2norm"] is not None:
            a[f"l2norm{j}.w"] = sd[f"{_L2NORM_KEYS[j]}.weight"].astype(np.float32)
        for part in ("loc", "conf"):
            a[f"head{j}.{part}.w"] = sd[f"{part}.{j}.weight"].astype(np.float32)
            a[f"head{j}.{part}.b"] = sd[f"{part}.{j}.bias"].astype(np.float32)
    return a


def _load(path: Path):
    try:
        import torch
    except ImportError as exc:
        raise DependencyError("importing an EdgeML checkpoint needs PyTorch: pip install 'harness[torch]'") from exc
    if not path.exists():
        raise InputError(f"checkpoint {path} not found")
    if not path.is_file():
        raise InputError(f"checkpoint {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise CheckpointError(f"{path} holds a pickled {found.group(1)}, not just tensors; weights_only loading "
                                  "refuses it, re-save the model's state_dict()") from exc
        raise CheckpointError(f"{path} is not a PyTorch checkpoint") from exc
    except PermissionError as exc:
        raise InputError(f"cannot read checkpoint {path}: permission denied") from exc
    except Exception as exc:  # torch.load raises RuntimeError, KeyError, OSError… on foreign or truncated files
        detail = (str(exc).splitlines() or [""])[0][:100]
        raise CheckpointError(f"{path} is not a PyTorch checkpoint or is truncated ({type(exc).__name__}: {detail})"
                              ) from exc


def import_edgeml(ckpt_path, arch: str, height: int = 240, width: int = 320) -> Model:
    """Read an EdgeML RPool_Face checkpoint as ``arch`` at ``height``×``width``; return the float model."""
    path = Path(ckpt_path)
    return from_state_dict(_unwrap(_load(path), path), arch, height, width, source=str(path))


def from_state_dict(sd: dict[str, np.ndarray], arch: str, height: int = 240, width: int = 320,
                    nonlinearity: str = "exact", source: str = "state dict") -> Model:
    """An EdgeML-layout state dict (NumPy arrays, no ``module.`` prefix) → float model; BN folded."""
    cfg = build_config(arch, height, width, nonlinearity=nonlinearity)
    problems = _problems(sd, cfg)
    if problems:
        fits = [a for a in sorted(ARCHS) if a != arch and not _problems(sd, build_config(a, height, width))]
        hint = f"; it fits {fits[0]!r}, try that architecture" if fits else ""
        more = f" (+{len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise CheckpointError(f"{source} is not an EdgeML {arch} checkpoint: {problems[0]}{more}{hint}")
    for key in _expected(cfg):
        for alias in _aliases(key):
            if alias in sd and not np.array_equal(sd[alias], sd[key]):
                raise CheckpointError(f"{source}: {alias} differs from {key}; EdgeML stores one shared cell twice, "
                                      "so the checkpoint is inconsistent")
    return Model.create(cfg, _arrays(sd, cfg))
