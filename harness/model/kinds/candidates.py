"""On-device post-processing: the priors whose face − background difference reaches the head's threshold, as
``rp_candidate`` records (rp_candidates_s16; host half and reference in harness/model/candidates.py). Not a
reference layer: no float or fixed op, no fingerprint.

Latency features: priors, 1 — one score test per prior (candidates found add a data-dependent few %: not
predictable from the model).
"""

from __future__ import annotations

from harness.codegen.graph import candidate_capacity
from harness.model.archs import num_priors
from harness.model.layers import DeviceStep, LayerKind, RowWindow


def _step(layer, g):
    return DeviceStep((1, candidate_capacity(g.cfg), 1), dtype="candidate")


def _heads(layer) -> tuple[tuple[str, str], ...]:
    """Each head's (conf, loc): its candidates are found as soon as both exist, in head order (the same array)."""
    return tuple(zip(layer.inputs[0::2], layer.inputs[1::2]))


def _emit(em, s):
    """One call per head, each right after its loc head (``consumes``); returns END's byte count: the records
    stored."""
    base, cap = 0, em.g.max_candidates
    for j, (t, (conf, loc)) in enumerate(zip(em.thresholds, _heads(s.layer))):
        h, w, _ = em.g.tensors[conf].shape
        em.call(s, ["*n_candidates = 0;"] * (j == 0) + [f"const rp_candidates_params p = {{{base}, {t}}};",
                                                          f"const rp_dims d = {em.dims(conf)};"],
                f"rp_candidates_s16(&p, &d, {em.ptr(conf, 'const int16_t')}, "
                f"{em.ptr(loc, 'const int16_t')}, {em.ptr('candidates', 'rp_candidate')}, "
                f"{cap}, n_candidates)", after=loc)
        base += h * w
    return f"(*n_candidates < {cap} ? *n_candidates : {cap}) * (int32_t)sizeof(rp_candidate)"


def _work(s, w):
    return {"priors": num_priors(w.model.config)}


KIND = LayerKind("candidates", _step, _emit, ("priors", "1"), _work, rows=lambda layer: RowWindow(sink=True),
                 consumes=_heads)
