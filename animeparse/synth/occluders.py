"""Foreground effects drawn over the characters: text, speech bubbles, petals, branches, sparkles,
frames, snow. They are labeled background: they are drawn into a transparent layer whose alpha
marks the pixels they cover, and those pixels are labeled 0."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from animeparse.synth.colors import RGB, WHITE, hsv, mix
from animeparse.synth.geometry import bezier, ellipse, star, stroke, taper

OCCLUDERS = ("text", "bubble", "petals", "branch", "sparkles", "frame", "snow")

WORDS = ("DOKI", "KYAA", "!?", "Hello!", "WOW", "...", "Hmm?", "GO!", "Yay", "LOVE", "zzz", "NO WAY", "Ah!",
         "Tadaima", "Sugoi", "?!", "HA HA", "Senpai!", "BAN", "Fight!")


class Layer:
    """A transparent layer over the picture; its alpha channel is what the occluders cover."""

    def __init__(self, size: int):
        self.image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def polygon(self, points: np.ndarray, fill: RGB, outline: RGB | None = None, width: int = 1) -> None:
        self.draw.polygon(np.asarray(points).ravel().tolist(), fill=(*fill, 255),
                          outline=(*outline, 255) if outline else None, width=width)

    def text(self, xy, text: str, font, fill: RGB, stroke_width: int = 0, stroke_fill: RGB = WHITE) -> None:
        self.draw.text(xy, text, font=font, fill=(*fill, 255), stroke_width=stroke_width, stroke_fill=(*stroke_fill, 255))

    def rectangle(self, box, outline: RGB, width: int) -> None:
        self.draw.rectangle(box, outline=(*outline, 255), width=width)


def draw_occluders(size: int, kinds: tuple[str, ...], rng: np.random.Generator, monochrome: bool) -> Image.Image:
    """An RGBA layer with the occluders ``kinds``; alpha > 0 marks the pixels they cover."""
    layer = Layer(size)
    for kind in kinds:
        if kind not in OCCLUDERS:
            raise ValueError(f"unknown occluder {kind!r}; choose from {', '.join(OCCLUDERS)}")
        _DRAW[kind](layer, size, rng, monochrome)
    return layer.image


def composite(rgb: np.ndarray, layer: Image.Image) -> np.ndarray:
    """``rgb`` with the occluder layer laid over it."""
    return np.asarray(Image.alpha_composite(Image.fromarray(rgb).convert("RGBA"), layer).convert("RGB"))


def _font(size: int):
    return ImageFont.load_default(size=max(8, int(size)))


def _text(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    for _ in range(int(rng.integers(1, 4))):
        font = _font(size * rng.uniform(0.05, 0.14))
        color = (20, 20, 20) if mono else hsv(rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0))
        xy = (rng.uniform(0, 0.75) * size, rng.uniform(0, 0.9) * size)
        layer.text(xy, WORDS[rng.integers(len(WORDS))], font, color, int(rng.integers(0, 4)), WHITE)


def _bubble(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    cx, cy = rng.uniform(0.15, 0.85) * size, rng.uniform(0.1, 0.5) * size
    rx, ry = rng.uniform(0.1, 0.22) * size, rng.uniform(0.06, 0.12) * size
    tail = np.array([[cx - rx * 0.2, cy + ry * 0.8], [cx + rx * 0.15, cy + ry * 0.8],
                     [cx + rng.uniform(-1, 1) * rx, cy + ry * rng.uniform(1.5, 2.2)]])
    width = max(1, size // 200)
    layer.polygon(tail, WHITE, (20, 20, 20), width)
    layer.polygon(ellipse(cx, cy, rx, ry, 40), WHITE, (20, 20, 20), width)
    font = _font(ry * 0.6)
    layer.text((cx - rx * 0.6, cy - ry * 0.4), WORDS[rng.integers(len(WORDS))], font, (20, 20, 20))


def _petals(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    base = (250, 250, 250) if mono else hsv(rng.choice([0.95, 0.0, 0.1, 0.3]), rng.uniform(0.15, 0.5), 1.0)
    for _ in range(int(rng.integers(10, 50))):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.006, 0.02) * size
        layer.polygon(ellipse(x, y, r, r * 0.55, 10, angle=rng.uniform(0, np.pi)), mix(base, WHITE, rng.uniform(0, 0.4)), (120, 120, 120) if mono else None)


def _branch(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    corner = np.array([rng.choice([0, size]), rng.uniform(0, 0.5) * size])
    direction = np.array([1.0 if corner[0] == 0 else -1.0, rng.uniform(-0.2, 0.5)])
    length = rng.uniform(0.3, 0.6) * size
    line = bezier(corner, corner + direction * length * 0.5 + (0, rng.uniform(-0.1, 0.1) * size), corner + direction * length, n=16)
    bark = (40, 40, 40) if mono else (95, 65, 45)
    layer.polygon(stroke(line, taper(16, size * 0.025, size * 0.02, 1.0, at=0.1)), bark)
    blossom = rng.random() < 0.5
    for p in line[4::2]:
        for _ in range(3):
            q = p + rng.normal(0, size * 0.03, 2)
            r = size * rng.uniform(0.012, 0.025)
            if blossom:
                color = (250, 250, 250) if mono else hsv(0.95, rng.uniform(0.15, 0.35), 1.0)
                layer.polygon(ellipse(q[0], q[1], r, r, 10), color)
            else:
                color = (60, 60, 60) if mono else hsv(rng.uniform(0.22, 0.35), 0.6, rng.uniform(0.4, 0.7))
                layer.polygon(ellipse(q[0], q[1], r * 1.4, r * 0.6, 10, angle=rng.uniform(0, np.pi)), color)


def _sparkles(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    for _ in range(int(rng.integers(4, 20))):
        c = rng.uniform(0, size, 2)
        r = rng.uniform(0.01, 0.045) * size
        color = WHITE if mono or rng.random() < 0.5 else hsv(rng.uniform(0.1, 0.18), rng.uniform(0.2, 0.6), 1.0)
        layer.polygon(star(c, r, 4), color, (120, 120, 120) if mono else None)


def _frame(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    width = int(rng.uniform(0.01, 0.04) * size) + 1
    color = (20, 20, 20) if mono or rng.random() < 0.4 else hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.3, 1.0))
    inset = int(rng.uniform(0, 0.05) * size)
    layer.rectangle([inset, inset, size - 1 - inset, size - 1 - inset], color, width)


def _snow(layer: Layer, size: int, rng: np.random.Generator, mono: bool) -> None:
    for x, y in rng.uniform(0, size, (int(rng.integers(20, 80)), 2)):
        r = rng.uniform(0.003, 0.01) * size + 0.6
        layer.polygon(ellipse(x, y, r, r, 8), (250, 250, 250) if mono else (250, 250, 255), (170, 170, 170) if mono else None)


_DRAW = {"text": _text, "bubble": _bubble, "petals": _petals, "branch": _branch, "sparkles": _sparkles,
         "frame": _frame, "snow": _snow}
