"""Priors, decoding and NMS on hand-made raw vectors."""

import numpy as np
import pytest

from harness.model import detect
from harness.model.archs import build_config

CFG = build_config("rpool-face-m4")


def test_priors_layout():
    p = detect.priors(CFG)
    assert p.shape == (3000, 4)
    assert np.allclose(p[0], [4 / 320, 4 / 240, 8 / 320, 8 / 240])          # level 0, (0, 0)
    assert np.allclose(p[1], [12 / 320, 4 / 240, 8 / 320, 8 / 240])         # row-major: next column
    assert np.allclose(p[1200], [4 / 320, 4 / 240, 16 / 320, 16 / 240])     # level 1 starts
    assert np.allclose(p[-1], [(19.5 * 16) / 320, (14.5 * 16) / 240, 48 / 320, 48 / 240])


def _raw(faces: dict[int, tuple[float, list[float]]]) -> np.ndarray:
    conf = np.zeros((3000, 2))
    conf[:, 0] = 5.0  # background everywhere
    loc = np.zeros((3000, 4))
    for idx, (logit, l) in faces.items():
        conf[idx] = [0.0, logit]
        loc[idx] = l
    return np.concatenate([conf.ravel(), loc.ravel()])


def test_single_face_decodes_to_its_prior():
    idx = 2400 + 5 * 20 + 7  # level 2 (step 16, size 32), row 5, column 7
    dets = detect.detect(CFG, _raw({idx: (10.0, [0, 0, 0, 0])}))
    assert len(dets) == 1
    d = dets[0]
    assert (d.x0, d.y0, d.x1, d.y1) == pytest.approx((7.5 * 16 - 16, 5.5 * 16 - 16, 7.5 * 16 + 16, 5.5 * 16 + 16))
    assert d.score == pytest.approx(1 / (1 + np.exp(-10.0)))


def test_decode_offsets_and_variance():
    idx = 2400
    d = detect.detect(CFG, _raw({idx: (10.0, [1.0, 0.0, np.log(2) / 0.2, 0.0])}))[0]
    # centre moves by 0.1 · prior width (32 px); width doubles
    assert (d.x0 + d.x1) / 2 == pytest.approx(8 + 3.2)
    assert d.x1 - d.x0 == pytest.approx(64)
    assert d.y1 - d.y0 == pytest.approx(32)


def test_nms_keeps_best_of_overlapping_and_distant_ones():
    a, b, c = 2400 + 5 * 20 + 7, 2400 + 5 * 20 + 8, 2400 + 10 * 20 + 2  # a and b overlap (IoU 1/3 > 0.3)
    dets = detect.detect(CFG, _raw({a: (9.0, [0] * 4), b: (8.0, [0] * 4), c: (7.0, [0] * 4)}))
    centres = [((d.x0 + d.x1) / 2, (d.y0 + d.y1) / 2) for d in dets]
    assert centres == [pytest.approx((120, 88)), pytest.approx((40, 168))]


def test_threshold_filters():
    raw = _raw({2400: (0.2, [0] * 4)})  # score σ(0.2) ≈ 0.55
    assert len(detect.detect(CFG, raw)) == 1
    assert detect.detect(CFG, raw, threshold=0.6) == []


def test_wrong_raw_length():
    with pytest.raises(ValueError, match="expected 18000"):
        detect.split_raw(CFG, np.zeros(100))
