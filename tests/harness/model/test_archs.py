"""Architecture descriptions and the shapes they imply."""

import pytest

from harness.errors import UsageError
from harness.model.archs import build_config, num_priors, shapes


def test_m4_qvga_shapes():
    s = shapes(build_config("rpool-face-m4"))
    assert s.stem == (120, 160, 4) and s.patches == (29, 39) and s.rnnpool == (30, 40, 64)
    assert s.blocks == ((30, 40, 32), (30, 40, 32), (15, 20, 64), (15, 20, 64))
    assert num_priors(build_config("rpool-face-m4")) == 3000  # 18,000 raw values


def test_qvga_mono_heads():
    cfg = build_config("rpool-face-qvga-mono")
    assert len(cfg["blocks"]) == 14
    assert shapes(cfg).heads == ((30, 40, 32), (30, 40, 32), (15, 20, 96), (15, 20, 128))
    assert [b["residual"] for b in cfg["blocks"]].count(True) == 11


def test_any_input_size():
    s = shapes(build_config("rpool-face-m4", 129, 201))
    assert s.stem == (65, 101, 4) and s.patches == (15, 24) and s.rnnpool == (16, 25, 64)


def test_unknown_arch_and_tiny_input():
    with pytest.raises(UsageError, match="unknown architecture"):
        build_config("rpool-face-m7")
    with pytest.raises(UsageError, match="too small"):
        build_config("rpool-face-m4", 10, 10)
    with pytest.raises(UsageError, match="nonlinearity"):
        build_config("rpool-face-m4", nonlinearity="soft")
