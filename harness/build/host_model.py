"""A whole quantised model run through the host-built C kernels, in the reference's own schedule
(``fixed_ref.schedule``), each layer fed by the C output of the one before — so every layer and fingerprint can be
compared with ``run_fixed``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from harness.build import host_kernels as hk
from harness.model.fixed_ref import fingerprint, schedule
from harness.model.modelfile import Model

HOST_KERNELS = SimpleNamespace(conv=hk.conv2d, depthwise=hk.depthwise3x3, add=hk.add, l2norm=hk.l2norm,
                               rnnpool=hk.rnnpool)


def run_host(model: Model, image_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Layer name → integer HWC tensor, the names, order and dtypes of ``FixedResult.layers``."""
    return schedule(model, image_u8, HOST_KERNELS)


def host_fingerprints(layers: dict[str, np.ndarray], names: list[str]) -> dict[str, int]:
    return {n: fingerprint(layers[n]) for n in names}
