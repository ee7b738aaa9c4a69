"""Image loading: formats, colour conversion, letterboxing and errors."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import ImageError, InputError
from harness.model.image import PAD, load_image

ROOT = Path(__file__).resolve().parents[3]


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


def test_other_aspect_ratios_are_letterboxed_not_stretched(tmp_path):
    square = np.zeros((480, 480), np.uint8)
    square[:, 200:280] = 255                     # a centred vertical bar, 80 px wide
    cv2.imwrite(str(tmp_path / "sq.png"), square)
    y = load_image(tmp_path / "sq.png", 240, 320)
    assert y.shape == (240, 320)
    assert (y[:, :40] == PAD).all() and (y[:, 280:] == PAD).all()   # 40-px grey bands left and right
    assert (y[:, 40:100] == 0).all() and (y[:, 101:139] == 0).all()
    bar = np.flatnonzero(y[120] == 255)
    assert bar[0] == 140 and bar[-1] == 179      # 80 px → 40 px, centred: not widened to 53 px as a stretch would
    tall = np.full((300, 100), 50, np.uint8)
    cv2.imwrite(str(tmp_path / "tall.png"), tall)
    y = load_image(tmp_path / "tall.png", 240, 320)
    assert (y[:, 120:200] == 50).all() and (y[:, :120] == PAD).all() and (y[:, 200:] == PAD).all()


def test_fixture_images_are_the_model_size_and_load_unchanged():
    paths = sorted(p for d in ("scenes", "photos") for p in (ROOT / "fixtures" / d).glob("*.png"))
    assert len(paths) >= 30
    for p in paths:
        raw = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert raw.shape == (240, 320) and raw.dtype == np.uint8, p
        assert np.array_equal(load_image(p, 240, 320), raw), p


def test_tiny_images_are_refused_and_far_upscaling_warned(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "dot.png"), np.zeros((1, 1), np.uint8))
    with pytest.raises(ImageError, match=r"dot.png is 1x1 pixels: too small .* \(at least 8x8\)"):
        load_image(tmp_path / "dot.png", 240, 320)
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((20, 30), np.uint8))
    assert load_image(tmp_path / "small.png", 240, 320).shape == (240, 320)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "small.png is 30x20 pixels, upscaled 10.7x" in err
    load_image(tmp_path / "small.png", 240, 320, warn=False)
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((120, 160), np.uint8))   # 2x: no warning
    load_image(tmp_path / "ok.png", 240, 320)
    assert capsys.readouterr().err == ""


def test_a_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a directory, not an image"):
        load_image(tmp_path, 240, 320)
