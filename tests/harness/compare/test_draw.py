"""Detection pictures: boxes land where the detections are."""

import cv2
import numpy as np
import pytest

from harness.compare.draw import GREEN, draw_detections, save_picture
from harness.errors import InputError
from harness.model.detect import Detection


def test_box_is_drawn_at_scaled_position(tmp_path):
    grey = np.zeros((40, 60), np.uint8)
    img = draw_detections(grey, [Detection(10, 20, 30, 35, 0.9)], scale=2)
    assert img.shape == (80, 120, 3)
    assert tuple(img[50, 20]) == GREEN           # left edge of the box, x0·2 = 20
    assert not img[60:68, 25:55].any()           # inside stays untouched
    path = save_picture(img, tmp_path / "d.png")
    assert np.array_equal(cv2.imread(str(path)), img)


def test_unwritable_picture(tmp_path):
    with pytest.raises(InputError, match="cannot write picture"):
        save_picture(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.unknownext")
