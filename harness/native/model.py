"""A whole quantised model run through the host-built C kernels, in the reference's own schedule
(``fixed_ref.schedule`` with every kind's host kernels), each layer fed by the C output of the one before — so every
layer and fingerprint can be compared with ``run_fixed``."""

from __future__ import annotations

import numpy as np

from harness.model.fixed_ref import fingerprint, schedule
from harness.model.modelfile import Model


def run_host(model: Model, image_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Layer name → integer HWC tensor, the names, order and dtypes of ``FixedResult.layers``."""
    return schedule(model, image_u8, "host")


def host_fingerprints(layers: dict[str, np.ndarray], names: list[str]) -> dict[str, int]:
    return {n: fingerprint(layers[n]) for n in names}
