import numpy as np

from harness.model.archs import build_config
from harness.model.detect import decode, priors
from harness.train.targets import COMPENSATE_IOU, MATCH_IOU, corners, encode, iou_matrix, match

CFG = build_config("rpool-face-m4", 120, 160)
PRI = priors(CFG)
VAR = CFG["priors"]["variance"]
NORM = np.array([160, 120, 160, 120], np.float64)


def test_encode_inverts_decode():
    rng = np.random.default_rng(0)
    loc = rng.normal(0, 1.5, (PRI.shape[0], 4))
    assert np.allclose(encode(decode(loc, PRI, VAR), PRI, VAR), loc, atol=1e-9)


def test_every_face_of_16_to_64_px_gets_priors_whose_decode_is_the_face():
    for size in (16, 23, 32, 45, 64):
        for x, y in ((3.0, 5.0), (50.5, 40.0), (160.0 - size, 120.0 - size)):
            truth = np.array([[x, y, x + size, y + size]]) / NORM
            labels, loc = match(truth, PRI, VAR)
            assert labels.sum() >= 1, (size, x, y)
            boxes = decode(loc[labels == 1].astype(np.float64), PRI[labels == 1], VAR)
            assert np.allclose(boxes, truth, atol=1e-5)


def test_matching_rules():
    truths = np.array([[10, 10, 42, 42], [100, 60, 120, 80]], np.float64) / NORM
    labels, _ = match(truths, PRI, VAR)
    iou = iou_matrix(truths, corners(PRI))
    assert np.all(labels[iou.max(axis=0) >= MATCH_IOU] == 1)          # every prior above 0.35 is a face
    assert np.all(labels[iou.max(axis=0) <= COMPENSATE_IOU] == 0)     # nothing below 0.1 ever is
    assert np.all(labels[iou.argmax(axis=1)] == 1)                    # each face keeps its best prior


def test_no_faces_means_all_background():
    labels, loc = match(np.zeros((0, 4)), PRI, VAR)
    assert labels.sum() == 0 and labels.shape == (PRI.shape[0],) and not loc.any()
