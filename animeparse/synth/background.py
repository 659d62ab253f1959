"""Backgrounds behind the characters (all labeled background): plain white, solid, gradient,
pattern, outdoor scenery (sky, clouds, ground, buildings, trees), a room, bokeh and noise."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from animeparse.synth.colors import RGB, WHITE, hsv, mix
from animeparse.synth.geometry import ellipse, star

BACKGROUNDS = ("white", "solid", "gradient", "pattern", "scenery", "room", "bokeh", "noise")
SIMPLE_BACKGROUNDS = ("white", "solid", "gradient")
"""Backgrounds that do not make an image harder to parse; the others count as busy."""


def render_background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """An (size, size, 3) uint8 background of the given kind."""
    if kind not in BACKGROUNDS:
        raise ValueError(f"unknown background {kind!r}; choose from {', '.join(BACKGROUNDS)}")
    return np.asarray(_DRAW[kind](size, rng), np.uint8)


def _pastel(rng: np.random.Generator) -> RGB:
    return hsv(rng.random(), rng.uniform(0.05, 0.4), rng.uniform(0.8, 1.0))


def _white(size: int, rng: np.random.Generator) -> Image.Image:
    return Image.new("RGB", (size, size), WHITE)


def _solid(size: int, rng: np.random.Generator) -> Image.Image:
    color = _pastel(rng) if rng.random() < 0.7 else hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.9))
    return Image.new("RGB", (size, size), color)


def vertical_gradient(size: int, top: RGB, bottom: RGB) -> np.ndarray:
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    column = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.broadcast_to(column, (size, size, 3)).astype(np.uint8)


def _gradient(size: int, rng: np.random.Generator) -> Image.Image:
    a, b = _pastel(rng), _pastel(rng)
    if rng.random() < 0.6:
        return Image.fromarray(vertical_gradient(size, a, b))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cx, cy = rng.uniform(0.2, 0.8, 2)
    t = np.clip(np.hypot(xx - cx, yy - cy) / 0.9, 0, 1)[..., None]
    return Image.fromarray((np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t).astype(np.uint8))


def _pattern(size: int, rng: np.random.Generator) -> Image.Image:
    a = _pastel(rng)
    b = mix(a, hsv(rng.random(), 0.5, 0.9), rng.uniform(0.25, 0.6))
    img = Image.new("RGB", (size, size), a)
    d = ImageDraw.Draw(img)
    step = int(size * rng.uniform(0.04, 0.12)) + 2
    kind = rng.integers(4)
    for i in range(-size, 2 * size, step):
        if kind == 0:  # diagonal stripes
            d.polygon([(i, 0), (i + step // 2, 0), (i + step // 2 - size, size), (i - size, size)], fill=b)
        elif kind == 1:  # dots
            for j in range(0, size + step, step):
                x = i + (step // 2 if (j // step) % 2 else 0)
                d.ellipse([x, j, x + step * 0.4, j + step * 0.4], fill=b)
        elif kind == 2 and 0 <= i < size:  # checks
            for j in range(0, size, step):
                if (i // step + j // step) % 2:
                    d.rectangle([i, j, i + step - 1, j + step - 1], fill=b)
        elif kind == 3 and 0 <= i < size:  # stars
            for j in range(0, size, step):
                c = np.array([i + step / 2, j + step / 2]) + rng.uniform(-step / 4, step / 4, 2)
                d.polygon(star(c, step * 0.3, 5).ravel().tolist(), fill=b)
    return img


def _sky(size: int, rng: np.random.Generator) -> tuple[Image.Image, str]:
    time = ("day", "day", "sunset", "night")[rng.integers(4)]
    top, bottom = {
        "day": (hsv(0.58, rng.uniform(0.4, 0.7), 0.95), hsv(0.55, 0.15, 1.0)),
        "sunset": (hsv(0.7, 0.5, 0.6), hsv(0.06, 0.6, 1.0)),
        "night": (hsv(0.66, 0.7, 0.18), hsv(0.62, 0.5, 0.45)),
    }[time]
    img = Image.fromarray(vertical_gradient(size, top, bottom))
    d = ImageDraw.Draw(img)
    if time == "night":
        for x, y in rng.uniform(0, size, (int(rng.integers(20, 80)), 2)):
            d.point((x, y * 0.6), fill=(255, 255, 230))
    else:
        for _ in range(int(rng.integers(2, 7))):
            cx, cy, w = rng.uniform(0, size), rng.uniform(0.05, 0.45) * size, rng.uniform(0.1, 0.3) * size
            cloud = mix(WHITE, bottom, 0.15 if time == "day" else 0.4)
            for _ in range(6):
                ox, oy, r = rng.uniform(-w / 2, w / 2), rng.uniform(-w / 8, w / 10), rng.uniform(0.15, 0.3) * w
                d.ellipse([cx + ox - r, cy + oy - r * 0.7, cx + ox + r, cy + oy + r * 0.7], fill=cloud)
    return img, time


def _scenery(size: int, rng: np.random.Generator) -> Image.Image:
    img, time = _sky(size, rng)
    d = ImageDraw.Draw(img)
    horizon = rng.uniform(0.5, 0.8) * size
    dark = time == "night"
    if rng.random() < 0.5:  # town: building silhouettes with windows
        x = -rng.uniform(0, 40)
        while x < size:
            w, h = rng.uniform(0.08, 0.2) * size, rng.uniform(0.1, 0.45) * size
            wall = hsv(rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.3), rng.uniform(0.2, 0.45) if dark else rng.uniform(0.6, 0.95))
            d.rectangle([x, horizon - h, x + w, horizon], fill=wall)
            lit = (255, 220, 130) if dark else mix(wall, (90, 130, 170), 0.5)
            for wy in np.arange(horizon - h + 6, horizon - 8, max(size * 0.04, 6)):
                for wx in np.arange(x + 4, x + w - 6, max(size * 0.035, 5)):
                    if rng.random() < 0.7:
                        d.rectangle([wx, wy, wx + size * 0.015, wy + size * 0.02], fill=lit)
            x += w + rng.uniform(0, 0.05) * size
    ground = hsv(rng.choice([0.28, 0.3, 0.1, 0.6]), rng.uniform(0.1, 0.5), rng.uniform(0.25, 0.45) if dark else rng.uniform(0.5, 0.8))
    d.rectangle([0, horizon, size, size], fill=ground)
    for _ in range(int(rng.integers(0, 5))):  # trees
        tx, th = rng.uniform(0, size), rng.uniform(0.15, 0.4) * size
        d.rectangle([tx - th * 0.05, horizon - th * 0.5, tx + th * 0.05, horizon + 4], fill=(90, 60, 40))
        leaf = hsv(rng.uniform(0.25, 0.38), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.6))
        for _ in range(5):
            ox, oy, r = rng.normal(0, th * 0.15), rng.uniform(-th * 0.9, -th * 0.45), rng.uniform(0.15, 0.28) * th
            d.ellipse([tx + ox - r, horizon + oy - r, tx + ox + r, horizon + oy + r], fill=leaf)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.5))) if rng.random() < 0.6 else img


def _room(size: int, rng: np.random.Generator) -> Image.Image:
    wall = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.3), rng.uniform(0.75, 0.95))
    floor_y = rng.uniform(0.65, 0.85) * size
    img = Image.new("RGB", (size, size), wall)
    d = ImageDraw.Draw(img)
    d.rectangle([0, floor_y, size, size], fill=hsv(0.08, rng.uniform(0.3, 0.6), rng.uniform(0.45, 0.7)))
    for y in np.arange(floor_y, size, size * 0.05):
        d.line([(0, y), (size, y)], fill=hsv(0.08, 0.5, 0.4), width=1)
    wx, ww = rng.uniform(0, 0.6) * size, rng.uniform(0.25, 0.4) * size
    wy, wh = rng.uniform(0.08, 0.2) * size, rng.uniform(0.3, 0.45) * size
    sky, _ = _sky(int(max(ww, wh)) + 1, rng)
    img.paste(sky.resize((int(ww), int(wh))), (int(wx), int(wy)))
    frame = hsv(0.1, 0.2, rng.uniform(0.3, 0.95))
    d.rectangle([wx, wy, wx + ww, wy + wh], outline=frame, width=max(2, size // 80))
    d.line([(wx + ww / 2, wy), (wx + ww / 2, wy + wh)], fill=frame, width=max(2, size // 100))
    if rng.random() < 0.5:  # a blackboard
        bx = (wx + ww + rng.uniform(0.05, 0.2) * size) % size
        d.rectangle([bx, 0.12 * size, bx + 0.5 * size, 0.45 * size], fill=(40, 80, 60), outline=(120, 90, 60), width=4)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.0)))


def _bokeh(size: int, rng: np.random.Generator) -> Image.Image:
    base = Image.fromarray(vertical_gradient(size, hsv(rng.random(), 0.5, rng.uniform(0.15, 0.5)), hsv(rng.random(), 0.5, rng.uniform(0.3, 0.7))))
    layer = Image.new("RGB", (size, size), (0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(15, 50))):
        x, y, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.02, 0.09) * size
        d.polygon(ellipse(x, y, r, r, 6 if rng.random() < 0.3 else 24).ravel().tolist(), fill=hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.5, 1.0)))
    layer = layer.filter(ImageFilter.GaussianBlur(size * 0.006))
    out = np.asarray(base, np.float32) + np.asarray(layer, np.float32) * 0.7
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _noise(size: int, rng: np.random.Generator) -> Image.Image:
    low = rng.random((8, 8, 3)).astype(np.float32)
    field = np.asarray(Image.fromarray((low * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC), np.float32) / 255
    a, b = np.asarray(_pastel(rng), np.float32), np.asarray(hsv(rng.random(), rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.9)), np.float32)
    t = field.mean(axis=2, keepdims=True)
    out = a * (1 - t) + b * t + rng.normal(0, rng.uniform(3, 14), (size, size, 1))
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


_DRAW = {"white": _white, "solid": _solid, "gradient": _gradient, "pattern": _pattern, "scenery": _scenery,
         "room": _room, "bokeh": _bokeh, "noise": _noise}
