import numpy as np
import pytest

from harness.scenes import sources
from harness.scenes.compose import SceneSpec, compose_scene, soft_mask
from harness.train.data import train_spec

pytest.importorskip("skimage", reason="scenes are built from scikit-image's data: pip install -e '.[dev]'")


def test_same_seed_and_index_give_the_same_bytes():
    a, b = compose_scene(SceneSpec(), 3, 5), compose_scene(SceneSpec(), 3, 5)
    assert a.image.tobytes() == b.image.tobytes() and a.faces == b.faces and a.meta == b.meta
    assert compose_scene(SceneSpec(), 3, 6).image.tobytes() != a.image.tobytes()


def test_scenes_follow_the_spec():
    spec = SceneSpec()
    counts, sizes = [], []
    for i in range(40):
        sc = compose_scene(spec, 11, i)
        assert sc.image.shape == (240, 320) and sc.image.dtype == np.uint8
        counts.append(len(sc.faces))
        boxes = [f.box for f in sc.faces]
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240
            assert x1 - x0 == y1 - y0
            sizes.append(x1 - x0)
        for j, a in enumerate(boxes):  # faces never overlap one another
            for b in boxes[j + 1:]:
                assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1])
        assert all(0.0 <= f.occlusion <= 0.4 for f in sc.faces)
    assert min(counts) == 0 and max(counts) >= 5 and max(counts) <= 6
    assert min(sizes) >= 16 and max(sizes) <= 64 and max(sizes) - min(sizes) > 30
    assert np.mean(counts) > 2


def test_fixture_and_training_crops_are_disjoint():
    assert not set(sources.FIXTURE_FACES) & set(sources.TRAIN_FACES)
    assert not set(sources.FIXTURE_NONFACES) & set(sources.TRAIN_NONFACES)
    assert set(sources.FIXTURE_FACES) | set(sources.TRAIN_FACES) == set(range(100))
    spec = train_spec(120, 160)
    used = {f.crop for i in range(60) for f in compose_scene(spec, 7, i).faces}
    assert used and used <= set(sources.TRAIN_FACES)
    used = {f.crop for i in range(60) for f in compose_scene(SceneSpec(), 7, i).faces}
    assert used and used <= set(sources.FIXTURE_FACES)


def test_lfw_crops_are_the_scikit_image_subset():
    crops = sources.lfw_crops()
    assert crops.shape == (200, 25, 25) and crops.dtype == np.uint8
    assert crops.max() > 200 and crops.min() < 30


def test_soft_mask_is_opaque_inside_and_fades_at_the_edge():
    m = soft_mask(40)
    assert m.shape == (40, 40) and m[20, 20] == 256
    assert m[0, 0] == 0 and 0 < m[20, 0] < 256
    assert np.array_equal(m, m[::-1]) and np.array_equal(m, m.T)
