"""Image sources for scenes: scikit-image's LFW face crops, its texture and photo backgrounds, and real photographs.

Everything here comes from files inside installed wheels (no download), so scenes can be rebuilt anywhere the
``[dev]`` extra is installed. The face crops are split once and for all: crops used in fixtures never reach
training. Licences and provenance are listed in ``fixtures/README.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from harness.errors import DependencyError, InputError

# skimage.data.lfw_subset(): 100 faces (0–99) then 100 non-faces (100–199), 25×25, in LFW's random order.
FIXTURE_FACES = tuple(range(70, 100))
TRAIN_FACES = tuple(range(0, 70))
FIXTURE_NONFACES = tuple(range(170, 200))
TRAIN_NONFACES = tuple(range(100, 170))

# PNG backgrounds only (JPEG decoders may differ between builds); astronaut and camera hold faces, so they are
# photo fixtures, never backgrounds.
BACKGROUNDS = ("brick", "grass", "gravel", "text", "page", "moon", "coins", "coffee", "chelsea", "horse",
               "cell", "clock", "logo", "immunohistochemistry", "colorwheel")


def _skimage_data():
    try:
        from skimage import data
    except ImportError as exc:
        raise DependencyError("building scenes needs scikit-image: pip install -e '.[dev]'") from exc
    return data


# SHA-256 of skimage/data/lfw_subset.npy (scikit-image's own registry): other crops would be other fixtures.
LFW_SHA256 = "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c"


@cache
def lfw_crops() -> np.ndarray:
    """(200, 25, 25) uint8: the LFW subset scaled from [0, 1] to [0, 255]."""
    data = _skimage_data()
    path = Path(data.__file__).parent / "lfw_subset.npy"
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != LFW_SHA256:
        raise InputError(f"{path} is not the LFW subset these scenes were built from (SHA-256 differs); "
                         "install scikit-image 0.26")
    return np.rint(np.asarray(data.lfw_subset(), np.float64) * 255.0).astype(np.uint8)


def to_grey(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.dtype != np.uint8:
        raise InputError(f"expected an 8-bit image, got {img.dtype}")
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(img)


@cache
def background(name: str) -> np.ndarray:
    data = _skimage_data()
    if name not in BACKGROUNDS:
        raise InputError(f"unknown background {name!r}")
    return to_grey(getattr(data, name)())


def grace_hopper() -> np.ndarray:
    try:
        import matplotlib
    except ImportError as exc:
        raise DependencyError("the grace_hopper photo comes with matplotlib: pip install -e '.[dev]'") from exc
    path = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"cannot read {path}")
    return img


@dataclass(frozen=True)
class Photo:
    """A real photograph with faces labelled by hand (boxes in the source image's pixels)."""

    name: str
    source: str
    licence: str
    faces: tuple[tuple[int, int, int, int], ...]
    difficult: tuple[bool, ...]  # VOC "difficult": excluded from AP, e.g. a profile view the detector never saw
    scale: float                 # resize factor so faces land in the detector's 16–64 px range
    offset: tuple[int, int]      # where the resized photo's top-left corner lands on the 320×240 canvas

    def load(self) -> np.ndarray:
        if self.name == "grace_hopper":
            return grace_hopper()
        return to_grey(getattr(_skimage_data(), self.name)())


PHOTOS = (
    Photo("astronaut", "scikit-image skimage.data.astronaut(): Eileen Collins, NASA Great Images database",
          "public domain (NASA; 'no known copyright restrictions')", ((176, 82, 266, 178),), (False,), 0.625, (0, 0)),
    Photo("camera", "scikit-image skimage.data.camera(): cameraman on MIT campus, photographer Lav Varshney",
          "CC0", ((188, 128, 256, 194),), (True,), 0.47, (40, 0)),
    Photo("grace_hopper", "matplotlib mpl-data/sample_data/grace_hopper.jpg: Rear Admiral Grace M. Hopper, US Navy",
          "public domain (US Navy photograph, work of the US federal government)", ((178, 160, 352, 330),),
          (False,), 0.35, (70, 15)),
)
