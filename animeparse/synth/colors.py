"""Color arithmetic and the color choices of anime characters (skin, hair, eyes, cloth)."""

from __future__ import annotations

import colorsys

import numpy as np

from animeparse.synth.canvas import RGB

WHITE: RGB = (255, 255, 255)
INK: RGB = (38, 26, 34)  # near-black with a warm cast, like most printed line art

SKIN_TONES: tuple[RGB, ...] = (
    (255, 236, 222), (253, 226, 206), (250, 218, 196), (247, 210, 186), (238, 196, 168),
    (226, 178, 146), (198, 146, 110), (160, 110, 80),
)
SKIN_WEIGHTS = (0.18, 0.24, 0.2, 0.14, 0.1, 0.07, 0.05, 0.02)

NATURAL_HAIR: tuple[RGB, ...] = (
    (36, 32, 44), (58, 44, 40), (96, 62, 42), (132, 84, 52), (172, 112, 64), (206, 150, 86),
    (238, 208, 132), (246, 230, 180), (150, 58, 40), (196, 90, 50),
)
EYE_HUES = (0.58, 0.62, 0.33, 0.0, 0.78, 0.1, 0.12, 0.9, 0.5)  # blue, azure, green, red, violet, amber, gold, pink, teal


def hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved a fraction ``t`` of the way to ``b``."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def shadow_of(c: RGB, depth: float = 0.22, tint: RGB = (120, 90, 160)) -> RGB:
    """The cel-shading shadow of ``c``: darker and pulled toward a cool tint, as painters do."""
    dark = tuple(int(x * (1 - depth)) for x in c)
    return mix(dark, tint, depth * 0.35)  # type: ignore[arg-type]


def light_of(c: RGB, amount: float = 0.35) -> RGB:
    return mix(c, WHITE, amount)


def line_of(c: RGB, ink: RGB = INK, colored: bool = True) -> RGB:
    """Outline color for a fill: a dark, saturated version of it (colored line art) or plain ink."""
    if not colored:
        return ink
    h, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in c))
    return mix(hsv(h, min(1.0, s + 0.35), v * 0.38), ink, 0.35)


def skin_tone(rng: np.random.Generator) -> RGB:
    base = SKIN_TONES[rng.choice(len(SKIN_TONES), p=SKIN_WEIGHTS)]
    return mix(base, (255, 214, 214), rng.uniform(0, 0.2))


def hair_color(rng: np.random.Generator) -> RGB:
    """Natural colors half the time, the rest anime colors (pink, blue, silver, green, ...)."""
    if rng.random() < 0.5:
        return mix(NATURAL_HAIR[rng.integers(len(NATURAL_HAIR))], (128, 128, 128), rng.uniform(-0.1, 0.1))
    if rng.random() < 0.15:  # silver and white
        return hsv(rng.uniform(0.55, 0.75), rng.uniform(0.02, 0.12), rng.uniform(0.82, 0.97))
    return hsv(rng.random(), rng.uniform(0.35, 0.8), rng.uniform(0.55, 0.97))


def eye_color(rng: np.random.Generator, hair: RGB) -> RGB:
    if rng.random() < 0.25:  # often matched to the hair
        h, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in hair))
        return hsv(h, max(s, 0.5), min(max(v, 0.45), 0.85))
    return hsv(EYE_HUES[rng.integers(len(EYE_HUES))] + rng.uniform(-0.03, 0.03), rng.uniform(0.5, 0.9), rng.uniform(0.5, 0.9))


def cloth_color(rng: np.random.Generator) -> RGB:
    """Cloth: whites, blacks, navies and greys are common; saturated colors the rest."""
    r = rng.random()
    if r < 0.15:
        return hsv(rng.uniform(0.5, 0.7), rng.uniform(0.0, 0.06), rng.uniform(0.92, 1.0))
    if r < 0.27:
        return hsv(rng.uniform(0.55, 0.7), rng.uniform(0.1, 0.5), rng.uniform(0.12, 0.3))
    if r < 0.38:
        return hsv(rng.uniform(0.58, 0.66), rng.uniform(0.4, 0.75), rng.uniform(0.25, 0.5))
    if r < 0.45:
        return hsv(rng.random(), rng.uniform(0.0, 0.1), rng.uniform(0.4, 0.75))
    return hsv(rng.random(), rng.uniform(0.3, 0.85), rng.uniform(0.45, 0.98))


def accent_color(rng: np.random.Generator) -> RGB:
    """Ribbons, ties, trims: saturated reds, blues, golds, pinks."""
    return hsv(rng.choice([0.0, 0.98, 0.6, 0.12, 0.92, 0.35, 0.75]) + rng.uniform(-0.02, 0.02),
               rng.uniform(0.55, 0.9), rng.uniform(0.6, 0.95))
