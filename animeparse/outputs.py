"""What a prediction is saved as: the index label map, the color map and per-class layers."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from animeparse.drawing import color_map
from animeparse.files import FAST_PNG_LEVEL, png_bytes, write_atomic
from animeparse.inference import Prediction
from animeparse.labels import Schema


LAYER_MIN_SHARE = 0.1
"""Percent of the pixels a class must cover to get a layer: a full-size layer per stray pixel made
a 25 MB zip for one 2048-px scene."""


def layers_zip(image: np.ndarray, labels: np.ndarray, schema: Schema, min_share: float = LAYER_MIN_SHARE) -> bytes:
    """A zip of one RGBA PNG per class covering at least ``min_share`` percent of the pixels: the
    image, transparent outside that class.

    Layers have the image's size, so stacking them in an editor rebuilds the picture.
    """
    buffer = io.BytesIO()
    counts = np.bincount(labels.ravel(), minlength=256)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for class_id in np.flatnonzero(counts):
            if class_id >= schema.num_classes or counts[class_id] * 100 < min_share * labels.size:
                continue
            alpha = np.where(labels == class_id, 255, 0).astype(np.uint8)
            rgba = np.dstack([image, alpha])
            zf.writestr(f"{class_id:02d}_{schema.names[class_id]}.png", png_bytes(rgba, FAST_PNG_LEVEL))
    return buffer.getvalue()


def export(prediction: Prediction, use: str, schema: Schema, out_dir: Path) -> list[Path]:
    """Write the index label map, the color map and the zip of per-class layers; return their paths."""
    labels = prediction.labels(use, schema)
    stem = out_dir / prediction.name
    files = {
        Path(f"{stem}_labels.png"): png_bytes(labels, FAST_PNG_LEVEL),
        Path(f"{stem}_colors.png"): png_bytes(color_map(labels, schema), FAST_PNG_LEVEL),
        Path(f"{stem}_layers.zip"): layers_zip(prediction.image, labels, schema),
    }
    for path, data in files.items():
        write_atomic(path, data)
    return list(files)
