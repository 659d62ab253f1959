"""animeparse.correction: brush strokes read back into a label map, and filling enclosed regions."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from animeparse.correction import Correction, UNDO_DEPTH, brush_colors, fill_enclosed, read_strokes
from animeparse.labels import IGNORE_INDEX, SCHEMA_16


def stroke(layer: Image.Image, y: int, color: str, width: int = 5) -> None:
    ImageDraw.Draw(layer).line([(0, y), (layer.width, y)], fill=color, width=width)


def test_strokes_set_their_class_white_unlabels_and_the_rest_stays():
    previous = np.random.default_rng(0).integers(0, 16, (40, 30), dtype=np.uint8)
    layer = Image.new("RGBA", (30, 40), (0, 0, 0, 0))
    colors = brush_colors(SCHEMA_16)
    stroke(layer, 10, colors[SCHEMA_16.label2id["props"]])
    stroke(layer, 30, colors[-1])  # white: unlabeled
    # a stroke's blended rim (half transparent, mixed color) keeps the old class
    ImageDraw.Draw(layer).point([(5, 20)], fill=(120, 60, 200, 100))
    out = read_strokes(np.asarray(layer), previous, SCHEMA_16)
    assert (out[8:13] == SCHEMA_16.label2id["props"]).all()
    assert (out[28:33] == IGNORE_INDEX).all()
    untouched = np.ones(40, bool)
    untouched[8:13] = untouched[28:33] = False
    np.testing.assert_array_equal(out[untouched], previous[untouched])


def test_browser_rounding_and_a_layer_of_another_size():
    previous = np.zeros((20, 20), np.uint8)
    layer = np.zeros((40, 40, 4), np.uint8)  # the editor at twice the size
    r, g, b = SCHEMA_16.palette[1]
    layer[:20] = (r - 3 if r > 3 else r + 3, g, b, 255)  # a few levels off, as browsers round
    out = read_strokes(layer, previous, SCHEMA_16)
    assert (out[:10] == 1).all() and (out[10:] == 0).all()


def test_fill_encloses_regions_inside_an_outline_only():
    labels = np.zeros((30, 30), np.uint8)
    ring = Image.new("L", (30, 30), 0)
    ImageDraw.Draw(ring).ellipse((5, 5, 20, 20), outline=1, width=2)
    labels[np.asarray(ring) == 1] = 4
    labels[12, 12] = 7  # something else inside the ring is covered too
    filled = fill_enclosed(labels, 4)
    assert filled[12, 12] == 4 and filled[13, 13] == 4
    assert (filled[25:, :] == 0).all() and filled[0, 0] == 0  # outside stays
    assert (fill_enclosed(labels, 9) == labels).all()  # a class with no outline fills nothing


def test_correction_keeps_a_bounded_undo_history():
    corr = Correction("16", np.zeros((2, 2), np.uint8))
    for i in range(1, UNDO_DEPTH + 5):
        corr.change(np.full((2, 2), i, np.uint8))
    corr.change(corr.labels.copy())  # no change, no history entry
    assert len(corr.history) == UNDO_DEPTH and corr.history[-1][0, 0] == UNDO_DEPTH + 3
