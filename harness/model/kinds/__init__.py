"""The built-in layer kinds, one module each, every one exporting ``KIND`` (a ``harness.model.layers.LayerKind``).

``BUILTIN`` is the one list the registry loads; a new kind is a module here plus its name in this list (its C kernel
goes to firmware/kernels/ and its declaration to firmware/include/rp_kernels.h).
"""

from __future__ import annotations

from harness.build import host_kernels as hk
from harness.model import fixed_ref as fx
from harness.model.layers import Kernel

BUILTIN = ("stem", "rnnpool", "mbconv", "l2norm", "conv_s16", "candidates")

# The dense convolution: rp_conv2d_u8_s8 (uint8 input), rp_conv2d_s8 and rp_conv2d_s8_s16 (an int16 clamp range).
CONV = Kernel(fx.conv_s8, hk.conv2d)
