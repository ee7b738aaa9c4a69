"""The built-in layer kinds, one module each, every one exporting ``KIND`` (a ``harness.model.layers.LayerKind``).

Every module in this folder is a kind (``BUILTIN``, loaded by the registry on first use): a new kind is a module
here; its C kernel goes to firmware/kernels/ and its declaration to firmware/include/rp_kernels.h.
"""

from __future__ import annotations

import pkgutil

from harness.native import kernels as hk
from harness.model import fixed_ref as fx
from harness.model.layers import Kernel

BUILTIN = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)))

# The dense convolution: rp_conv2d_u8_s8 (uint8 input), rp_conv2d_s8 and rp_conv2d_s8_s16 (an int16 clamp range).
CONV = Kernel(fx.conv_s8, hk.conv2d)
