"""A whole quantised model run layer by layer through the host-built C kernels, in the reference's schedule, each
layer fed by the C output of the one before — so every layer and fingerprint can be compared with ``run_fixed``."""

from __future__ import annotations

import numpy as np

from harness.build import host_kernels as hk
from harness.model.fixed_ref import _p, fingerprint
from harness.model.modelfile import Model


def run_host(model: Model, image_u8: np.ndarray) -> dict[str, np.ndarray]:
    """Layer name → integer HWC tensor, the names and order of ``FixedResult.layers``."""
    cfg, a = model.config, model.arrays
    qc = model.require_quant()
    act, hard = qc["act"], cfg["nonlinearity"] == "hard"
    L: dict[str, np.ndarray] = {}

    def conv(name, x):
        p = _p(a, name)
        return hk.conv2d(x, p["w"], p["bias"], p["mult"], p["shift"], act[name])

    p = _p(a, "stem")
    L["stem"] = hk.conv2d_u8(image_u8[..., None], p["w"], p["bias"], p["mult"], p["shift"], act["stem"],
                             cfg["stem"]["stride"], qc["input_offset"])
    rp, r = cfg["rnnpool"], _p(a, "rnnpool")
    x = L["rnnpool"] = hk.rnnpool(L["stem"], _p(a, "rnn1"), _p(a, "rnn2"), rp["patch"], rp["stride"], hard,
                                  r["out_mult"], r["out_shift"])
    for i, blk in enumerate(cfg["blocks"]):
        e = L[f"mb{i}.expand"] = conv(f"mb{i}.expand", x)
        p = _p(a, f"mb{i}.dw")
        d = L[f"mb{i}.dw"] = hk.depthwise3x3(e, p["w"], p["bias"], p["mult"], p["shift"], act[f"mb{i}.dw"],
                                             blk["stride"])
        y = L[f"mb{i}.project"] = conv(f"mb{i}.project", d)
        if blk["residual"]:
            p = _p(a, f"mb{i}.add")
            y = hk.add(x, y, p["ka"], p["kb"], p["mult"], p["shift"])
        x = L[f"mb{i}"] = y
    for j, hd in enumerate(cfg["heads"]):
        src = L[f"mb{hd['block']}"]
        if hd["l2norm"] is not None:
            p = _p(a, f"l2norm{j}")
            src = L[f"l2norm{j}"] = hk.l2norm(src, p["mult"], p["shift"])
        L[f"head{j}.conf"] = conv(f"head{j}.conf", src)
        L[f"head{j}.loc"] = conv(f"head{j}.loc", src)
    return L


def host_fingerprints(layers: dict[str, np.ndarray], names: list[str]) -> dict[str, int]:
    return {n: fingerprint(layers[n]) for n in names}
