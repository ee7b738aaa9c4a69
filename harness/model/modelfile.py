"""The model file: one ``.npz`` with the arrays plus a JSON description, identified by a content hash.

Layout inside the ``.npz``:

* ``__config__``: UTF-8 JSON (uint8 array): architecture, input size, normalisation, nonlinearity, priors,
  detection settings and, once quantised, the ``quant`` section (scales and integer parameters' meaning).
* float arrays (BN already folded), PyTorch layouts: ``stem.w`` (O,I,3,3), ``stem.b``; ``rnn1.W`` (h1,k),
  ``rnn1.U``, ``rnn1.bg``, ``rnn1.bh``, ``rnn1.zeta``, ``rnn1.nu``; ``rnn2.*``; ``mb{i}.{expand,dw,project}.{w,b}``;
  ``l2norm{j}.w``; ``head{j}.{loc,conf}.{w,b}``.
* integer arrays of the fixed-point model under ``q/`` (see docs/numerics.md).
* ``__model_id__``: the content hash, checked on load.

The *model id* is the first 16 hex digits of SHA-256 over the canonical JSON and every array's name, dtype, shape
and bytes, so it changes exactly when the content does.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping

import numpy as np

from harness.errors import InputError, ModelError

FORMAT = "harness-model/1"


def _canonical(config: dict) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def content_hash(config: dict, arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256(_canonical(config))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Model:
    """A model: its description, its arrays (read-only) and its content hash."""

    config: dict
    arrays: Mapping[str, np.ndarray]
    model_id: str = field(default="")

    @staticmethod
    def create(config: dict, arrays: Mapping[str, np.ndarray]) -> Model:
        frozen = {}
        for name, a in arrays.items():
            a = np.array(a, copy=True)
            a.setflags(write=False)
            frozen[name] = a
        cfg = json.loads(_canonical(config))  # deep copy, JSON-normalised
        return Model(cfg, MappingProxyType(frozen), content_hash(cfg, frozen))

    @property
    def arch(self) -> str:
        return self.config["arch"]

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.config["input"]["height"], self.config["input"]["width"]

    @property
    def quantized(self) -> bool:
        return "quant" in self.config

    def float_arrays(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.arrays.items() if not k.startswith("q/")}

    def require_quant(self) -> dict:
        if not self.quantized:
            raise ModelError(f"model {self.model_id} has no fixed-point parameters; "
                             "run `harness model quantize MODEL -o OUT` first")
        return self.config["quant"]

    def replace(self, config: dict | None = None, arrays: Mapping[str, np.ndarray] | None = None) -> Model:
        return Model.create(self.config if config is None else config,
                            self.arrays if arrays is None else arrays)


def save(model: Model, path: str | Path) -> Path:
    path = Path(path)
    payload = dict(model.arrays)
    payload["__config__"] = np.frombuffer(_canonical(model.config), dtype=np.uint8)
    payload["__model_id__"] = np.frombuffer(model.model_id.encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz" to the name
        np.savez_compressed(f, **payload)
    return path


FIX = "restore it, or write a new one with `harness model init` / `harness model quantize`"


def load(path: str | Path) -> Model:
    """The model in ``path``. Any failure is one line naming the file and the fix: InputError when there is no such
    file, ModelError when the file is not an intact harness model (however deep in zip, zlib or NumPy it fails)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"model file {path} is a folder, not a .npz file: pass the model file itself")
    if not path.is_file():
        raise InputError(f"model file {path} not found: check the path, or create one with "
                         f"`harness model init -o {path}`")
    try:
        return _load(path)
    except ModelError:
        raise
    except PermissionError as exc:
        raise InputError(f"model file {path} is not readable ({exc.strerror}): check its permissions") from exc
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in zipfile, zlib, NumPy's header parser, …
        reason = (str(exc).strip().splitlines() or [""])[0][:120]
        raise ModelError(f"{path} is damaged or not a harness model file ({type(exc).__name__}"
                         f"{': ' + reason if reason else ''}): {FIX}") from exc


def _load(path: Path) -> Model:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{path} is not a harness model file (expected an .npz written by `harness model`)") from exc
    if "__config__" not in arrays:
        raise ModelError(f"{path} is not a harness model file: it has no __config__ entry")
    try:
        config = json.loads(arrays.pop("__config__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: its __config__ entry is not valid JSON: {FIX}") from exc
    stored_id = arrays.pop("__model_id__", np.zeros(0, np.uint8)).tobytes().decode(errors="replace")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise ModelError(f"{path}: unsupported model format {found!r} (this harness reads {FORMAT})")
    model = Model.create(config, arrays)
    if stored_id and stored_id != model.model_id:
        raise ModelError(f"{path} is corrupt: stored model id {stored_id} but its content hashes to "
                         f"{model.model_id}: {FIX}")
    return model
