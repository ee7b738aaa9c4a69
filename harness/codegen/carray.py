"""NumPy arrays → C definitions (``const`` arrays land in flash)."""

from __future__ import annotations

import numpy as np

_CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t", np.dtype(np.int16): "int16_t",
           np.dtype(np.int32): "int32_t"}


def c_array(name: str, a: np.ndarray, const: bool = True, per_line: int = 16) -> str:
    a = np.ascontiguousarray(a)
    ctype = _CTYPES[a.dtype]
    flat = [str(int(v)) for v in a.ravel()]
    lines = [", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    body = ",\n    ".join(lines)
    return f"{'static const ' if const else 'static '}{ctype} {name}[{max(1, a.size)}] = {{\n    {body}\n}};\n"
