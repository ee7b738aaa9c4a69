"""Lossless codecs for the image upload, measured on the fixtures (docs/protocol.md, "Coded upload"): bytes on
the wire per 320x240 image as a ratio to the raw 76,800, for the scenes and the photographs.

    .venv/bin/python bench/row_codecs.py [--json]

The row code is what the device decodes (harness/protocol/rowcode.py). The others are yardsticks: zlib at level 9
with its full 32 KiB window (a device would need that window in RAM) and with a 512-byte one; the same Rice code
with a left-neighbour predictor; the median predictor with one best k per row (sent in the row's header); and the
zero-order entropy of the median predictor's errors, the bound for any code that sees each error alone.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from harness.model.image import load_image  # noqa: E402
from harness.protocol import rowcode  # noqa: E402


def _rice_bytes(m: np.ndarray, k: np.ndarray) -> int:
    q = m >> k
    bits = np.where(q < rowcode.ESCAPE, q + 1 + k, rowcode.ESCAPE + 8)
    per_row = (bits.sum(axis=1) + 7) // 8
    return int(np.minimum(per_row, m.shape[1]).sum() + rowcode.HEADER_BYTES * m.shape[0])


def _left_rice(image: np.ndarray) -> int:
    x = image.astype(np.int32)
    pred = np.zeros_like(x)
    pred[:, 1:] = x[:, :-1]
    pred[1:, 0] = x[:-1, 0]
    e = (x - pred + 128) % 256 - 128
    m = np.where(e >= 0, 2 * e, -2 * e - 1)
    return _rice_bytes(m, rowcode.rice_k(rowcode.contexts(m)))


def _row_k(image: np.ndarray) -> int:
    m = rowcode.residuals(image)
    best = [min(_rice_bytes(row[None, :], np.full((1, row.size), k)) for k in range(8)) for row in m]
    return sum(best) + image.shape[0]  # a byte per row for its k


def _entropy(image: np.ndarray) -> int:
    counts = np.bincount(rowcode.residuals(image).ravel(), minlength=256)
    p = counts[counts > 0] / counts.sum()
    return int(np.ceil(-(p * np.log2(p)).sum() * image.size / 8))


CODECS = {
    "row code (the device's)": lambda im: len(rowcode.encode(im)),
    "Rice, left predictor": _left_rice,
    "Rice, median predictor, best k per row": _row_k,
    "zlib -9, 32 KiB window": lambda im: len(zlib.compress(im.tobytes(), 9)),
    "zlib -9, 512 B window": lambda im: len((c := zlib.compressobj(9, zlib.DEFLATED, 9)).compress(im.tobytes())
                                            + c.flush()),
    "entropy of the median predictor's errors": _entropy,
}


def measure() -> dict[str, dict[str, float]]:
    fixtures = ROOT / "fixtures"
    groups = {g: sorted((fixtures / g).glob("*.png")) for g in ("scenes", "photos")}
    images = {g: [load_image(str(p), 240, 320) for p in paths] for g, paths in groups.items()}
    out = {}
    for name, codec in CODECS.items():
        out[name] = {}
        for group, ims in images.items():
            sizes = [codec(im) for im in ims]
            out[name][group] = sum(im.size for im in ims) / sum(sizes)
            out[name][f"{group}-worst"] = min(im.size / s for im, s in zip(ims, sizes))
    return out


def show(result: dict) -> None:
    print("| codec | scenes (32) | worst scene | photos (3) | worst photo |\n|---|---:|---:|---:|---:|")
    for name, r in result.items():
        cells = (r[k] for k in ("scenes", "scenes-worst", "photos", "photos-worst"))
        print(f"| {name} | " + " | ".join(f"{v:.2f}×" for v in cells) + " |")


if __name__ == "__main__":
    sys.exit(report.main(__doc__, lambda _args: measure(), show))
