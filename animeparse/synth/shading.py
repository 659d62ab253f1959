"""From the part map to pixels: fills, patterns, cel or soft shadows, outlines, and the label map.

Everything here reads the part map (:class:`animeparse.synth.canvas.Canvas`), so colors and labels
cannot disagree:

- an outline pixel is a pixel of the part in front, on its edge against a part behind it (or
  against the background), so it is labeled with the part it outlines;
- a form shadow darkens the edge of a part that faces away from the light, a cast shadow darkens
  a part just below a front part that casts (bangs on the forehead, the chin on the neck);
- line art and manga styles recolor the same parts (white fills, dark ink, screentone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from animeparse.synth.canvas import RGB, Canvas, Pattern

SHADINGS = ("flat", "cel", "soft")


@dataclass(frozen=True)
class Look:
    """How the parts of one image are painted."""

    style: str = "color"  # color, lineart or manga
    shading: str = "cel"  # flat, cel or soft (color style)
    light: tuple[float, float] = (0.6, 0.8)  # direction the light travels (unit vector, image axes)
    outlines: bool = True
    paper: RGB = (255, 255, 255)  # fill of line art
    graphite: RGB = (40, 40, 48)  # line color of line art


def shifted(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, ``fill`` where that falls outside the image."""
    h, w = a.shape[:2]
    out = np.full_like(a, fill)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(0, -dy): h - max(0, dy), max(0, -dx): w - max(0, dx)] = a[max(0, dy): h + min(0, dy), max(0, dx): w + min(0, dx)]
    return out


def min_filters(ids: np.ndarray, steps: int) -> list[np.ndarray]:
    """Neighbourhood minima of growing radius (alternating cross and square steps, which grows an
    octagon, close to a disc). ``result[k - 1]`` is the minimum within radius ``k``."""
    big = np.iinfo(ids.dtype).max  # outside the image is never "behind"
    out, cur = [], ids
    for k in range(steps):
        rows = np.minimum(cur, np.minimum(shifted(cur, 1, 0, big), shifted(cur, -1, 0, big)))
        if k % 2 == 0:  # cross: rows and columns of the previous step
            cur = np.minimum(rows, np.minimum(shifted(cur, 0, 1, big), shifted(cur, 0, -1, big)))
        else:  # square
            cur = np.minimum(rows, np.minimum(shifted(rows, 0, 1, big), shifted(rows, 0, -1, big)))
        out.append(cur)
    return out


@dataclass
class PartTable:
    """Per-part lookup tables (index = part id) built from the canvas' materials."""

    cls: np.ndarray
    base: np.ndarray
    shadow: np.ndarray
    shaded: np.ndarray
    line: np.ndarray
    outlined: np.ndarray
    ink: np.ndarray
    casts: np.ndarray
    rim: np.ndarray
    owner: np.ndarray
    line_px: np.ndarray

    @classmethod
    def of(cls, canvas: Canvas) -> "PartTable":
        mats = canvas.materials[1:]
        n = len(mats) + 1
        t = cls(
            cls=np.zeros(n, np.uint8), base=np.zeros((n, 3), np.float32), shadow=np.zeros((n, 3), np.float32),
            shaded=np.zeros(n, bool), line=np.zeros((n, 3), np.float32), outlined=np.zeros(n, bool),
            ink=np.zeros(n, bool), casts=np.zeros(n, bool), rim=np.zeros(n, bool), owner=np.asarray(canvas.owners, np.int64),
            line_px=np.zeros(n, np.int64),
        )
        for i, m in enumerate(mats, start=1):
            t.cls[i], t.base[i], t.ink[i], t.casts[i], t.rim[i] = m.cls, m.color, m.ink, m.casts, m.rim
            if m.shadow is not None:
                t.shadow[i], t.shaded[i] = m.shadow, True
            if m.line is not None:
                t.line[i], t.outlined[i] = m.line, True
        lw = np.asarray(canvas.line_px or [1], np.int64)
        t.line_px = np.where(t.owner >= 0, lw[np.clip(t.owner, 0, None)], 0)
        return t


def pattern_mask(p: Pattern, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Float coverage (0..1) of pattern ``p`` at pixel coordinates (a gradient is its ramp)."""
    ca, sa = np.cos(p.angle), np.sin(p.angle)
    u = (xs * ca + ys * sa) / p.period
    v = (-xs * sa + ys * ca) / p.period
    if p.kind == "stripes":
        return ((u % 1.0) < p.width).astype(np.float32)
    if p.kind == "plaid":
        return 0.5 * ((u % 1.0) < p.width) + 0.5 * ((v % 1.0) < p.width)
    if p.kind == "dots":
        return (((u % 1.0) - 0.5) ** 2 + ((v % 1.0) - 0.5) ** 2 < (p.width / 2) ** 2).astype(np.float32)
    raise ValueError(f"unknown pattern kind {p.kind!r}")


def _apply_patterns(canvas: Canvas, t: PartTable, rgb: np.ndarray, shade: np.ndarray, outline: np.ndarray | None) -> None:
    """Paint each patterned part's pattern over its pixels in ``rgb``, in place, shaded by the
    per-pixel shadow weight ``shade`` (0..1) and leaving its outline alone."""
    for pid, m in enumerate(canvas.materials):
        if m is None or m.pattern is None:
            continue
        x0, y0, x1, y1 = canvas.boxes[pid]
        if x1 <= x0:
            continue
        mask = canvas.ids[y0:y1, x0:x1] == pid
        if outline is not None:
            mask &= ~outline[y0:y1, x0:x1]
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        if m.pattern.kind == "gradient":
            cov = (ys - y0) / max(y1 - y0 - 1, 1)
        else:
            cov = pattern_mask(m.pattern, ys, xs)
        cov = (cov * mask)[..., None]
        color = np.asarray(m.pattern.color, np.float32)
        ratio = (t.shadow[pid] + 1) / (t.base[pid] + 1) if t.shaded[pid] else np.ones(3, np.float32)
        target = color * (1 + (ratio - 1) * shade[y0:y1, x0:x1, None])
        region = rgb[y0:y1, x0:x1].astype(np.float32)
        rgb[y0:y1, x0:x1] = np.clip(region + (target - region) * cov + 0.5, 0, 255).astype(np.uint8)


def _shadow_mask(canvas: Canvas, t: PartTable, look: Look) -> np.ndarray:
    """Where each shaded part is in shadow: edges facing away from the light, and below casters."""
    ids = canvas.ids
    shade = np.zeros(ids.shape, bool)
    owner = t.owner.astype(np.int16)[ids]
    lx, ly = look.light
    for c, dist in enumerate(canvas.shade_px):
        dy, dx = int(round(ly * dist)), int(round(lx * dist))
        if dx == 0 and dy == 0:
            continue
        mine = owner == c
        away = shifted(ids, dy, dx, 0)  # the pixel further along the light's path
        toward = shifted(ids, -dy, -dx, 0)
        form = (away < ids) & t.rim[ids]
        cast = (toward > ids) & t.casts[toward] & (t.owner[toward] == c)
        shade |= mine & (form | cast)
    return shade & t.shaded[ids]


def _outline_mask(ids: np.ndarray, t: PartTable) -> np.ndarray:
    """Pixels on a part's edge against anything behind it: the silhouette against the background
    at the full line width, inner edges a little thinner, as inkers do."""
    width = t.line_px[ids]
    inner = np.maximum(1, np.round(width * 0.6)).astype(np.int64)
    steps = int(width.max()) if width.size else 0
    if steps == 0:
        return np.zeros(ids.shape, bool)
    mins = min_filters(ids, steps)
    out = np.zeros(ids.shape, bool)
    for k, m in enumerate(mins, start=1):
        out |= ((width == k) & (m == 0)) | ((inner == k) & (m < ids))
    return out & t.outlined[ids]


def compose(canvas: Canvas, background: np.ndarray, look: Look) -> tuple[np.ndarray, np.ndarray]:
    """The RGB image (uint8, H x W x 3) and the label map (uint8 class ids) of a drawn canvas."""
    ids = canvas.ids
    t = PartTable.of(canvas)
    if look.style == "lineart":
        _lineart_table(t, look)
    n = len(t.cls)
    # One table of every color a part can take (fill, shadow, line), gathered once per pixel.
    shadow = np.where(t.shaded[:, None], t.shadow, t.base)
    lut = np.clip(np.concatenate([t.base, shadow, t.line]) + 0.5, 0, 255).astype(np.uint8)
    index = ids.astype(np.intp)
    weight = np.zeros(ids.shape, np.float32)  # shadow weight per pixel, for patterns
    if look.shading != "flat" and look.style != "lineart":
        mask = _shadow_mask(canvas, t, look)
        if look.shading == "soft":
            radius = float(max(canvas.shade_px or [1.0])) * 0.6
            weight = np.asarray(Image.fromarray(mask.view(np.uint8) * 255).filter(ImageFilter.BoxBlur(radius)), np.float32) / 255
            weight *= t.shaded[ids]
        else:
            weight = mask.astype(np.float32)
            index += n * mask
    outline = _outline_mask(ids, t) if look.outlines else None
    if outline is not None:
        index = np.where(outline, ids + 2 * n, index)
    rgb = np.take(lut, index, axis=0)
    if look.shading == "soft" and look.style != "lineart":
        shade = np.take(lut, ids.astype(np.intp) + n, axis=0)
        w = weight[..., None] if outline is None else (weight * ~outline)[..., None]
        rgb = (rgb + (shade.astype(np.float32) - rgb) * w + 0.5).astype(np.uint8)
    if look.style != "lineart":
        _apply_patterns(canvas, t, rgb, weight, outline)
    np.copyto(rgb, background, where=(ids == 0)[..., None])
    return rgb, t.cls[ids]


def _lineart_table(t: PartTable, look: Look) -> None:
    """Line art: every fill becomes paper, every line and ink detail graphite, nothing shaded."""
    t.base[:] = look.paper
    t.base[t.ink] = look.graphite
    t.line[:] = look.graphite
    t.shaded[:] = False
