"""Image loading: formats, colour conversion, resizing and errors."""

import cv2
import numpy as np
import pytest

from harness.errors import ImageError, InputError
from harness.model.image import load_image


def test_colour_is_converted_to_luma(tmp_path):
    bgr = np.zeros((240, 320, 3), np.uint8)
    bgr[..., 2] = 200  # red
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    y = load_image(tmp_path / "red.png", 240, 320)
    assert y.shape == (240, 320) and y.dtype == np.uint8
    assert abs(int(y[0, 0]) - round(0.299 * 200)) <= 1


def test_matching_size_is_untouched_and_other_sizes_resized(tmp_path):
    g = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), g)
    assert np.array_equal(load_image(tmp_path / "g.png", 240, 320), g)
    big = np.kron(g, np.ones((2, 2), np.uint8))
    cv2.imwrite(str(tmp_path / "big.png"), big)
    assert np.array_equal(load_image(tmp_path / "big.png", 240, 320), g)  # INTER_AREA of 2×2 blocks


def test_16_bit_and_alpha(tmp_path):
    g16 = np.full((10, 12), 65535, np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    assert load_image(tmp_path / "g16.png", 10, 12).max() == 255
    bgra = np.full((10, 12, 4), 100, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert load_image(tmp_path / "a.png", 10, 12)[0, 0] == 100


def test_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "missing.png", 10, 10)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "text.png", 10, 10)
