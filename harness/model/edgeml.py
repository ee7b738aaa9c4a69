"""Import a trained EdgeML RNNPool-Face checkpoint (PyTorch) into a harness model.

EdgeML's ``train.py`` saves ``net.state_dict()`` (keys prefixed ``module.`` when trained under ``nn.DataParallel``);
the models' own ``load_weights`` expects ``{'weight': state_dict, 'epoch': n}``. All three forms are accepted.
Key names and layouts: docs/notes/edgeml-checkpoint.md. Every BatchNorm (eval mode, eps 1e-5) is folded
into the bias-free convolution before it; FastGRNN matrices are transposed to the (out, in) layout of the model
file (see ``harness.model.modelfile``). zeta and nu are kept raw: the reference applies the sigmoid. The keys and
their conversion are each layer kind's (``edgeml_keys``, ``from_edgeml`` in harness/model/kinds/).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np

from harness.errors import CheckpointError, DependencyError, InputError
from harness.model.archs import ARCHS, build_config
from harness.model.layers import kind, network
from harness.model.modelfile import Model

BN_EPS = 1e-5
_BN_PARTS = ("weight", "bias", "running_mean", "running_var")


def bn_keys(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint keys of a BatchNorm over ``c`` channels."""
    return {f"{prefix}.{p}": (c,) for p in _BN_PARTS}


def _expected(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor key an EdgeML checkpoint of this architecture must hold, with its shape (each layer kind's
    ``edgeml_keys``)."""
    exp: dict[str, tuple[int, ...]] = {}
    for layer in network(cfg):
        exp.update(kind(layer.kind).edgeml_keys(layer, cfg))
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


def fold(sd: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold eval-mode BatchNorm ``bn`` into the bias-free convolution ``conv``: returns (w', b')."""
    w = sd[f"{conv}.weight"].astype(np.float64)
    gamma, beta, mean, var = (sd[f"{bn}.{p}"].astype(np.float64) for p in _BN_PARTS)
    scale = gamma / np.sqrt(var + BN_EPS)
    return ((w * scale[:, None, None, None]).astype(np.float32),
            (beta - mean * scale).astype(np.float32))


def _arrays(sd: dict[str, np.ndarray], cfg: dict) -> dict[str, np.ndarray]:
    a: dict[str, np.ndarray] = {}
    for layer in network(cfg):
        a.update(kind(layer.kind).from_edgeml(sd, layer))
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
