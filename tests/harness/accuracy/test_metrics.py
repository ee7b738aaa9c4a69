"""VOC accuracy metrics: matching, all-point AP and the operating point."""

import numpy as np
import pytest

from harness.accuracy.metrics import Accuracy, evaluate, match_detections, voc_ap
from harness.model.detect import Detection

FACE = (0.0, 0.0, 10.0, 10.0)


def two_images():
    """Image A: faces A1, A2; image B: face B1. Ranked detections: A1 ✓ 0.9, A stray ✗ 0.8, B1 ✓ 0.7, A2 ✓ 0.6."""
    a = ([(0, 0, 10, 10, 0.9), (50, 50, 60, 60, 0.8), (20, 20, 30, 30, 0.6)], [(0, 0, 10, 10), (20, 20, 30, 30)])
    b = ([(0, 0, 10, 10, 0.7)], [(0, 0, 10, 10)])
    return [a, b]


def test_hand_computed_ap():
    # TP FP TP TP over 3 faces → precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1.
    # Envelope: recall 1/3 → 1; recall 2/3 → max(2/3, 3/4) = 3/4; recall 1 → 3/4.
    # AP = 1/3·1 + 1/3·3/4 + 1/3·3/4 = 1/3 + 1/2 = 5/6  (the raw curve would give 1/3 + 2/9 + 1/4 = 29/36).
    acc = evaluate(two_images(), threshold=0.5)
    assert acc.ap50 == pytest.approx(5 / 6)
    assert [s for s, _, _ in acc.curve] == [0.9, 0.8, 0.7, 0.6]
    assert np.allclose([p for _, p, _ in acc.curve], [1, 1 / 2, 2 / 3, 3 / 4])
    assert np.allclose([r for _, _, r in acc.curve], [1 / 3, 1 / 3, 2 / 3, 1])
    assert (acc.images, acc.faces, acc.true_positives, acc.false_positives) == (2, 3, 3, 1)
    assert acc.precision == pytest.approx(3 / 4) and acc.recall == pytest.approx(1.0)


def test_threshold_selects_operating_point():
    acc = evaluate(two_images(), threshold=0.75)  # keeps 0.9 ✓ and 0.8 ✗
    assert (acc.true_positives, acc.false_positives) == (1, 1)
    assert acc.precision == pytest.approx(1 / 2) and acc.recall == pytest.approx(1 / 3)
    assert len(acc.curve) == 4 and acc.ap50 == pytest.approx(5 / 6)  # curve and AP ignore the threshold
    acc = evaluate(two_images(), threshold=0.7)  # a score equal to the threshold is kept
    assert (acc.true_positives, acc.false_positives) == (2, 1)
    acc = evaluate(two_images(), threshold=0.95)  # nothing kept
    assert (acc.true_positives, acc.false_positives, acc.precision, acc.recall) == (0, 0, 0.0, 0.0)


def test_perfect_detector():
    b = ([(5, 5, 25, 25, 0.4), (40, 0, 60, 30, 0.8)], [(40, 0, 60, 30), (5, 5, 25, 25)])
    acc = evaluate([([(*FACE, 0.9)], [FACE]), b], threshold=0.3)
    assert (acc.ap50, acc.precision, acc.recall) == (1.0, 1.0, 1.0)
    assert (acc.true_positives, acc.false_positives, acc.faces) == (3, 0, 3)


def test_duplicate_detection_is_false_positive():
    assert match_detections([(0, 0, 10, 10, 0.9), (0, 0, 10, 10, 0.8)], [FACE]) == [True, False]
    # flags come back in input order, whatever the ranking
    assert match_detections([(1, 0, 11, 10, 0.3), (0, 0, 10, 10, 0.8)], [FACE]) == [False, True]


def test_iou_boundary():
    assert match_detections([(0, 0, 10, 5, 0.9)], [FACE]) == [True]     # 50 / 100 = 0.5 exactly
    assert match_detections([(0, 0, 10, 4.9, 0.9)], [FACE]) == [False]  # 49 / 100
    assert match_detections([(0, 0, 10, 4.9, 0.9)], [FACE], iou_thresh=0.4) == [True]


def test_takes_best_overlapping_free_truth():
    truths = [(0, 0, 10, 10), (2, 0, 12, 10)]
    # the second det overlaps the taken truth best (IoU 0.90) but still matches the free one (IoU 0.74)
    assert match_detections([(2, 0, 12, 10, 0.9), (1.5, 0, 11.5, 10, 0.8)], truths) == [True, True]
    assert match_detections([(0, 0, 10, 10, 0.5)], []) == [False]
    assert match_detections([], truths) == []


def test_ties_keep_input_order():
    near, exact = (1, 0, 11, 10, 0.5), (0, 0, 10, 10, 0.5)
    assert match_detections([near, exact], [FACE]) == [True, False]  # first listed wins despite lower IoU
    assert match_detections([exact, near], [FACE]) == [True, False]
    # pooled ranking: the tie between image A's miss and image B's hit keeps image order
    acc = evaluate([([(50, 50, 60, 60, 0.5)], [(20, 20, 30, 30)]), ([(*FACE, 0.5)], [FACE])], threshold=0.0)
    assert [p for _, p, _ in acc.curve] == [0.0, 0.5]


def test_no_match_across_images():
    acc = evaluate([([(*FACE, 0.9)], [(20, 20, 30, 30)]), ([], [FACE])], threshold=0.5)
    assert (acc.true_positives, acc.false_positives, acc.ap50, acc.recall) == (0, 1, 0.0, 0.0)


def test_no_truths_is_an_error():
    with pytest.raises(ValueError, match="no ground-truth faces"):
        evaluate([([(*FACE, 0.9)], [])], threshold=0.5)
    with pytest.raises(ValueError, match="no ground-truth faces"):
        evaluate([], threshold=0.5)


def brute_force_ap(rec, prec):
    """Sum over detections of recall gained × best precision at that recall or beyond."""
    ap, prev = 0.0, 0.0
    for r in rec:
        ap += (r - prev) * max(p for q, p in zip(rec, prec) if q >= r)
        prev = r
    return ap


@pytest.mark.parametrize("seed", range(20))
def test_voc_ap_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    tp = rng.random(rng.integers(1, 40)) < rng.random()
    faces = int(tp.sum()) + int(rng.integers(0, 5))  # some faces may never be found
    if faces == 0:
        faces = 1
    ctp = np.cumsum(tp)
    rec, prec = ctp / faces, ctp / np.arange(1, len(tp) + 1)
    assert voc_ap(rec, prec) == pytest.approx(brute_force_ap(rec, prec))


def test_voc_ap_edges():
    assert voc_ap(np.array([]), np.array([])) == 0.0
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == 1.0


def test_detection_objects_and_as_dict():
    dets = [Detection(0, 0, 10, 10, 0.9), Detection(0, 0, 10, 10, 0.8)]
    assert match_detections(dets, [FACE]) == [True, False]
    acc = evaluate([(dets, [Detection(0, 0, 10, 10, 1.0)]), ([], [FACE])], threshold=0.5)
    assert isinstance(acc, Accuracy)
    assert acc.as_dict() == {"ap50": 0.5, "precision": 0.5, "recall": 0.5, "images": 2, "faces": 2,
                             "true_positives": 1, "false_positives": 1}
    assert evaluate([([(0, 0, 3, 3, 0.9)], [(0, 0, 1, 1), FACE, (0, 0, 3, 4)])], 0.5).as_dict()["recall"] == 0.3333


def test_difficult_truths_are_neither_counted_nor_penalised():
    truths = [(0, 0, 10, 10), (20, 20, 30, 30)]
    dets = [(0, 0, 10, 10, 0.9), (20, 20, 30, 30, 0.8), (50, 50, 60, 60, 0.7)]
    assert match_detections(dets, truths, difficult=[False, True]) == [True, None, False]
    acc = evaluate([(dets, truths, [False, True])], threshold=0.5)
    assert acc.faces == 1
    assert (acc.true_positives, acc.false_positives) == (1, 1)
    assert acc.recall == 1.0 and acc.precision == 0.5
    # Missing a difficult face costs nothing.
    assert evaluate([(dets[:1], truths, [False, True])], threshold=0.5).ap50 == 1.0
