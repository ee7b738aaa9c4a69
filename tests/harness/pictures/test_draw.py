"""Detection pictures: boxes land where the detections are."""

import cv2
import numpy as np
import pytest

from harness.pictures.draw import GREEN, draw_detections, put_label, save_picture
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


@pytest.mark.parametrize("height,width", [(240, 320), (960, 1280)])
def test_score_labels_are_readable_at_the_picture_size(height, width):
    img = draw_detections(np.zeros((height, width), np.uint8), [Detection(width / 4, height / 4, width / 2,
                                                                          height / 2, 0.87)], scale=1)
    x0, y0, x1, y1 = put_label(img.copy(), "0.87", width // 4, height // 4, GREEN)
    assert y1 - y0 + 1 >= 0.025 * height                  # the label box is tall enough to read
    assert y1 < height // 4 + 1                           # above the box, not over the face
    label = img[y0:y1 + 1, x0:x1 + 1]
    fill = (label == GREEN).all(axis=2).mean()
    text = (label.max(axis=2) < 60).mean()                # black strokes on the filled background
    assert fill > 0.5 and text > 0.05


def test_labels_stay_inside_the_picture():
    img = np.zeros((100, 100, 3), np.uint8)
    x0, y0, x1, y1 = put_label(img, "0.99", 95, 2, GREEN)   # top-right corner: moved in
    assert x0 >= 0 and y0 >= 0 and x1 < 100 and y1 < 100
