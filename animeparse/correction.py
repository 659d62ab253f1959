"""Correcting a parse by painting: strokes in class colors read back into a label map, and filling.

The app's editor shows the picture with the current label map painted over it (the overlay) and
an empty paint layer on top. The user paints strokes with a brush whose colors are the palette
plus white (:data:`animeparse.labels.IGNORE_COLOR`) for "unlabeled". Reading the strokes back:

- a stroke pixel close to a palette color gets that class; close to white, it becomes ignore (255);
- pixels without paint, and the blended rim of a stroke, keep their previous class.

The strokes are then folded into the map and the editor is drawn again with an empty layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from animeparse.labels import IGNORE_COLOR, IGNORE_INDEX, Schema

PAINTED_ALPHA = 128
"""Layer pixels at least this opaque (of 255) are paint; fainter ones are a stroke's rim."""

COLOR_TOLERANCE = 24
"""Largest distance (max over R, G, B) between a layer pixel and a brush color that still counts
as that color; browsers round colors by a few levels."""

UNDO_DEPTH = 20
"""Earlier label maps a correction keeps for Undo."""


def brush_colors(schema: Schema) -> list[str]:
    """The brush palette: each class's color by id, then white for "unlabeled"."""
    return ["#{:02x}{:02x}{:02x}".format(*c) for c in (*schema.palette, IGNORE_COLOR)]


def read_strokes(layer: np.ndarray, previous: np.ndarray, schema: Schema) -> np.ndarray:
    """The label map after the strokes of a paint layer (H, W, 4) over ``previous`` (see module doc)."""
    if layer.shape[:2] != previous.shape:
        layer = np.asarray(Image.fromarray(layer).resize(previous.shape[::-1], Image.NEAREST))
    painted = layer[..., 3] >= PAINTED_ALPHA
    rgb = layer[painted][:, :3].astype(np.int16)  # only the stroke pixels: strokes are a small part of a picture
    colors = np.array([*schema.palette, IGNORE_COLOR], dtype=np.int16)
    values = np.array([*range(schema.num_classes), IGNORE_INDEX], dtype=np.uint8)
    distance = np.abs(rgb[:, None, :] - colors[None, :, :]).max(axis=2)  # (stroke pixels, brush colors)
    nearest = distance.argmin(axis=1)
    close = distance[np.arange(len(rgb)), nearest] <= COLOR_TOLERANCE
    out = previous.copy()
    ys, xs = np.nonzero(painted)
    out[ys[close], xs[close]] = values[nearest[close]]
    return out


def fill_enclosed(labels: np.ndarray, class_id: int) -> np.ndarray:
    """Fill every region that ``class_id`` encloses (an outline painted around a part) with it."""
    inside = labels == class_id
    # flood the outside from a one-pixel border around the map; what the flood never reaches is enclosed
    # (a copy: an image made from an array shares its read-only buffer, and floodfill would change nothing)
    canvas = Image.fromarray(np.pad(np.where(inside, 255, 0).astype(np.uint8), 1)).copy()
    ImageDraw.floodfill(canvas, (0, 0), 128)
    enclosed = (np.asarray(canvas)[1:-1, 1:-1] == 0)
    out = labels.copy()
    out[enclosed] = class_id
    return out


@dataclass
class Correction:
    """A label map being corrected (in the app: per session), in the classes of ``schema_key``."""

    schema_key: str
    labels: np.ndarray
    history: list[np.ndarray] = field(default_factory=list)  # earlier maps, for Undo

    def change(self, labels: np.ndarray) -> None:
        if not np.array_equal(labels, self.labels):
            self.history = [*self.history, self.labels][-UNDO_DEPTH:]
            self.labels = labels
