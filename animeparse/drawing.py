"""Pictures of label maps: overlays, color maps, the branches' disagreement, class shares."""

from __future__ import annotations

from typing import Iterable

import numpy as np
from PIL import Image

from animeparse.labels import IGNORE_INDEX, Schema

DISAGREEMENT_COLOR = (255, 0, 255)
"""Magenta: no class in the palette uses it."""


def _painted(visible: Iterable[int]) -> np.ndarray:
    painted = np.zeros(256, dtype=bool)
    painted[list(visible)] = True
    return painted


def overlay(
    image: np.ndarray, labels: np.ndarray, schema: Schema, visible: Iterable[int], opacity: float
) -> np.ndarray:
    """The image with the ``visible`` classes painted in their colors at ``opacity`` (0..1)."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    base = Image.fromarray(image)
    painted = Image.blend(base, Image.fromarray(schema.colorize(labels)), opacity)
    # PIL's blend and composite: about 3x faster than the same arithmetic in numpy.
    return np.asarray(Image.composite(painted, base, Image.fromarray(_painted(visible)[labels])))


def color_map(labels: np.ndarray, schema: Schema, visible: Iterable[int] | None = None) -> np.ndarray:
    """The color-coded label map; classes not ``visible`` are left white (the ignore color)."""
    if visible is not None:
        labels = np.where(_painted(visible)[labels], labels, IGNORE_INDEX)
    return schema.colorize(labels)


def disagreement_view(image: np.ndarray, disagree: np.ndarray) -> np.ndarray:
    """A dimmed gray copy of the image with the disagreeing pixels in magenta."""
    gray = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * 0.5 + 64
    out = np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
    out[disagree] = DISAGREEMENT_COLOR
    return out


def class_shares(labels: np.ndarray, schema: Schema) -> list[tuple[int, str, float]]:
    """(id, name, percent of pixels) for every class of ``schema``."""
    counts = np.bincount(labels.ravel(), minlength=256)[: schema.num_classes]
    percent = counts * 100.0 / max(1, labels.size)
    return [(i, name, float(p)) for i, (name, p) in enumerate(zip(schema.names, percent))]
