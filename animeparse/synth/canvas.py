"""The part map: every drawn shape becomes a numbered part, painted over what lies behind it.

Parts are numbered in drawing order, so a part's number is also its depth: a larger number is
in front. A pixel holds the number of the topmost part drawn there (0 = nothing), and each part
keeps its :class:`Material` (class id, colors, outline, pattern). Image colors, outlines and
shadows are all computed from this one map afterwards (:mod:`animeparse.synth.shading`), which
is what keeps labels exact: a label is the class of the visible part, and an outline pixel is a
pixel of the part it outlines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from animeparse.synth.geometry import Affine, Points, stroke

RGB = tuple[int, int, int]

MAX_PARTS = np.iinfo(np.int16).max
"""Parts one canvas can hold (the part map is int16, which halves the cost of every pass over it)."""


@dataclass(frozen=True)
class Pattern:
    """A fabric or color pattern over a part, in pixel space.

    ``kind``: ``stripes`` (bands of ``color``), ``plaid`` (two crossing band sets), ``dots``
    (a grid of round dots) or ``gradient`` (from the part's color at its top to ``color`` at its bottom).
    """

    kind: str
    color: RGB
    period: float = 12.0
    angle: float = 0.0
    width: float = 0.35  # band or dot size as a fraction of the period


@dataclass(frozen=True)
class Material:
    """How a part looks and which class it is."""

    cls: int
    color: RGB
    shadow: RGB | None = None  # shade color; None = never shaded (eye whites, lines, highlights)
    line: RGB | None = None  # outline color; None = no outline (ink strokes, highlights, blush)
    ink: bool = False  # a drawn line or dark detail: stays dark in line-art and manga styles
    casts: bool = False  # throws a cast shadow on the parts behind it (bangs on the forehead)
    rim: bool = True  # shaded along the edge that faces away from the light (faces: cast shadows only)
    pattern: Pattern | None = None


@dataclass
class Canvas:
    """The part map of one image and the table of its parts."""

    width: int
    height: int
    ids: np.ndarray = field(init=False)
    materials: list[Material | None] = field(init=False)
    owners: list[int] = field(init=False)  # character index of each part (-1: none)
    boxes: list[list[int]] = field(init=False)  # drawn bounding box (x0, y0, x1, y1) of each part
    line_px: list[int] = field(init=False)  # outline width in pixels, per character
    shade_px: list[float] = field(init=False)  # shadow offset in pixels, per character

    def __post_init__(self) -> None:
        self.ids = np.zeros((self.height, self.width), np.int16)
        self.materials, self.owners, self.boxes = [None], [-1], [[0, 0, 0, 0]]
        self.line_px, self.shade_px = [], []

    def begin_character(self, line_px: int, shade_px: float) -> int:
        """Start a new character; parts drawn from now on belong to it. Returns its index."""
        self.line_px.append(line_px)
        self.shade_px.append(shade_px)
        return len(self.line_px) - 1

    @property
    def num_parts(self) -> int:
        return len(self.materials) - 1

    def draw(self, material: Material, polygons: Iterable[Points], clip: Sequence[int] | None = None) -> int:
        """Paint the union of ``polygons`` (pixel coordinates) as one new part, in front of all
        earlier parts; with ``clip``, only over pixels that already belong to those parts.
        Returns the new part's id."""
        pid = len(self.materials)
        if pid > MAX_PARTS:
            raise OverflowError(f"a canvas holds at most {MAX_PARTS} parts")
        self.materials.append(material)
        self.owners.append(len(self.line_px) - 1)
        self.boxes.append([0, 0, 0, 0])
        polys = [np.asarray(p, np.float64) for p in polygons if len(p) >= 3]
        if not polys:
            return pid
        pts = np.concatenate(polys)
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            return pid
        mask = Image.new("L", (x1 - x0, y1 - y0))
        pen = ImageDraw.Draw(mask)
        for p in polys:
            pen.polygon((p - (x0, y0)).ravel().tolist(), fill=1)
        m = np.asarray(mask, dtype=bool)
        sub = self.ids[y0:y1, x0:x1]
        if clip is not None:
            m &= np.isin(sub, np.asarray(clip, np.int16))
        sub[m] = pid
        self.boxes[pid] = [x0, y0, x1, y1]
        return pid


class Pen:
    """Draws a character's shapes, given in its head units, onto a canvas; an optional ``warp``
    bends the shapes (in head units) before they are placed."""

    def __init__(self, canvas: Canvas, transform: Affine, warp: Callable[[Points], Points] | None = None):
        self.canvas = canvas
        self.transform = transform
        self.warp = warp

    @property
    def px(self) -> float:
        """Pixels per head unit."""
        return self.transform.scale

    def fill(self, material: Material, *polygons: Points, clip: Sequence[int] | None = None) -> int:
        if self.warp is not None:
            polygons = tuple(self.warp(p) for p in polygons)
        return self.canvas.draw(material, [self.transform(p) for p in polygons], clip)

    def stroke(self, material: Material, line: Points, widths, clip: Sequence[int] | None = None,
               min_px: float = 1.0) -> int:
        """A brush stroke at least ``min_px`` pixels wide, so fine lines survive small scales."""
        w = np.maximum(np.asarray(widths, np.float64), min_px / self.px)
        return self.fill(material, stroke(line, w), clip=clip)

    def with_transform(self, transform: Affine) -> "Pen":
        return Pen(self.canvas, transform, self.warp)
