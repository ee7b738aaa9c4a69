"""The generated model (codegen output) compiled for the host with the kernels and run through ctypes: the same
C the firmware runs, arena offsets and all, checked layer by layer against the NumPy reference without an
emulator."""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from harness.build.host import build_host_library
from harness.codegen.generate import GeneratedModel, generate
from harness.errors import BuildError
from harness.project import SOURCE
from harness.model.candidates import CANDIDATE
from harness.model.modelfile import Model

GENERATED = SOURCE.cache / "generated"
HOOK = C.CFUNCTYPE(None, C.c_void_p, C.c_int32, C.c_int32, C.c_void_p, C.c_int32)
DTYPES = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16}


@dataclass(frozen=True)
class HostRun:
    layers: dict[str, np.ndarray]   # every device layer's output, device order, shaped HWC
    candidates: np.ndarray          # CANDIDATE records as stored
    n_candidates: int               # all found, stored or not


@cache
def _load(model_dir: Path) -> C.CDLL:
    lib = C.CDLL(str(build_host_library(extra=model_dir).path))
    lib.rp_model_run.argtypes = [C.c_void_p, C.c_int32, HOOK, C.c_void_p, C.POINTER(C.c_int32)]
    lib.rp_model_stream.argtypes = [C.c_void_p, C.c_int32, C.POINTER(C.c_int32), HOOK, C.c_void_p]
    return lib


class HostModel:
    """One model's generated C as a host library; ``run`` is one inference."""

    def __init__(self, model: Model, directory: Path | None = None):
        self.model = model
        self.generated: GeneratedModel = generate(model, directory or GENERATED / model.model_id / "host")
        self.lib = _load(self.generated.directory)

    def run(self, image_u8: np.ndarray, stream: bool = False) -> HostRun:
        """One inference; ``stream``: the image arrives a row at a time (rows not yet in are garbage), each row
        followed by rp_model_stream, the way the device runs a streamed upload."""
        g = self.generated
        h, w = self.model.input_hw
        if image_u8.shape != (h, w) or image_u8.dtype != np.uint8:
            raise BuildError(f"input must be a {w}x{h} uint8 grey image, got {image_u8.dtype} {image_u8.shape}")
        arena = np.zeros(g.plan.arena_bytes, np.uint8)
        off = g.plan.offset("input")
        steps, tensors = g.graph.steps, g.graph.tensors
        out: dict[str, np.ndarray] = {}
        bands: dict[str, list[np.ndarray]] = {}

        def grab(data, nbytes) -> np.ndarray:
            if not nbytes:
                return np.zeros(0, np.uint8)
            return np.ctypeslib.as_array(C.cast(data, C.POINTER(C.c_uint8)), (nbytes,)).copy()

        def hook(_user, layer, end, data, nbytes):
            if end == 1:  # 2 ends a part of a layer that runs in parts (firmware/include/rp_model.h)
                out[steps[layer].name] = grab(data, nbytes)
            elif end == 3:  # a band of a streamed layer's rows
                bands.setdefault(steps[layer].name, []).append(grab(data, nbytes))

        callback, n = HOOK(hook), C.c_int32(0)
        if stream:
            arena[off:off + image_u8.size] = 0xA5  # what a row holds before it arrives
            done = (C.c_int32 * max(len(g.graph.streamed()), 1))()
            for row in range(h):
                arena[off + row * w:off + (row + 1) * w] = image_u8[row]
                status = self.lib.rp_model_stream(arena.ctypes.data, row + 1, done, callback, None)
                if status != 0:
                    raise BuildError(f"rp_model_stream returned status {status} at row {row}")
        else:
            arena[off:off + image_u8.size] = image_u8.ravel()
        status = self.lib.rp_model_run(arena.ctypes.data, int(stream), callback, None, C.byref(n))
        if status != 0:
            raise BuildError(f"rp_model_run returned status {status}")
        for name, parts in bands.items():
            out[name] = np.concatenate(parts)
        layers = {}
        for s in steps[:-1]:
            t = tensors[s.output]
            layers[s.name] = out[s.name].view(DTYPES[t.dtype]).reshape(t.shape)
        cands = out["candidates"].view(CANDIDATE)
        return HostRun(layers, cands, n.value)
