"""The self-test firmware's text report (firmware/app/selftest.c) → a record.

Lines: ``selftest 1 model ID status S build-id HEX``, one ``layer NAME crc HEX ticks N bytes N`` per layer in
execution order, one ``candidate PRIOR BG FACE L0 L1 L2 L3`` per stored candidate, then
``total ticks N candidates N arena N stack N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from harness.errors import ProtocolError
from harness.model.candidates import CANDIDATE


@dataclass(frozen=True)
class LayerReport:
    name: str
    crc: int
    ticks: int
    nbytes: int


@dataclass(frozen=True)
class RunReport:
    """One inference on the device: the self-test's text report and the framed RESULT both become this."""
    model_id: str
    status: int
    build_id: str
    layers: tuple[LayerReport, ...]
    candidates: np.ndarray
    n_candidates: int
    total_ticks: int
    arena_bytes: int
    stack_bytes: int


_HEAD = re.compile(r"^selftest 1 model (\S+) status (-?\d+) build-id ([0-9a-f]*)$")
_LAYER = re.compile(r"^layer (\S+) crc ([0-9a-f]{8}) ticks (\d+) bytes (\d+)$")
_CAND = re.compile(r"^candidate (\d+)((?: -?\d+){6})$")
_TAIL = re.compile(r"^total ticks (\d+) candidates (\d+) arena (\d+) stack (\d+)$")


def parse_report(text: str) -> RunReport:
    head = tail = None
    layers, cands = [], []
    for line in text.splitlines():
        line = line.strip()
        if m := _HEAD.match(line):
            head = m
        elif m := _LAYER.match(line):
            layers.append(LayerReport(m[1], int(m[2], 16), int(m[3]), int(m[4])))
        elif m := _CAND.match(line):
            v = [int(x) for x in m[2].split()]
            cands.append((int(m[1]), v[0], v[1], tuple(v[2:])))
        elif m := _TAIL.match(line):
            tail = m
    if head is None or tail is None:
        last = text.strip().splitlines()[-1:] or ["(nothing)"]
        raise ProtocolError(f"the self-test firmware did not finish its report; its last output was: {last[0][:200]}")
    return RunReport(head[1], int(head[2]), head[3], tuple(layers), np.array(cands, dtype=CANDIDATE),
                          int(tail[2]), int(tail[1]), int(tail[3]), int(tail[4]))
