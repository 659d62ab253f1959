"""Whole-image finishing: manga screentone, pencil texture, and the artifacts real illustrations
carry (downscale softness, color casts, glow, vignettes, noise, blur, JPEG compression).

None of these move a part, so the label map stays exact.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

EFFECTS = ("cast", "glow", "vignette", "noise", "blur", "jpeg")
STRONG_LIGHT = ("cast", "glow", "vignette")
"""Effects that count as strong lighting when applied hard (they make an image hard)."""


def soften(rgb: np.ndarray, radius: float) -> np.ndarray:
    """The slight softness of a downscaled illustration; hides the stair steps of hard edges."""
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.BoxBlur(radius)))


def screentone(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Manga look: grey levels become white, dot screens of two densities, or solid black."""
    gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    h, w = gray.shape
    period = rng.uniform(3.5, 6.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx + yy) / period, (xx - yy) / period  # a 45-degree dot screen
    dist = np.hypot((u % 1) - 0.5, (v % 1) - 0.5)
    white, black = rng.uniform(0.72, 0.82), rng.uniform(0.2, 0.3)
    coverage = np.clip((white - gray) / (white - black), 0, 1)  # 0 white ... 1 black
    levels = np.where(coverage < 0.5, 0.3, 0.5)
    tone = dist < levels * (coverage > 0.02)
    out = np.where(coverage >= 0.999, 0.0, np.where(tone, 0.12, 1.0))
    out = np.where(gray < black, 0.0, out)
    return np.repeat((out * 255).astype(np.uint8)[..., None], 3, axis=2)


def pencil(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Graphite texture: lines broken by paper grain, a faint tooth over the paper."""
    grain = rng.normal(0, 1, rgb.shape[:2]).astype(np.float32)
    grain = np.asarray(Image.fromarray(np.clip(grain * 40 + 128, 0, 255).astype(np.uint8)).filter(ImageFilter.BoxBlur(1)), np.float32) / 255
    dark = 1 - rgb.astype(np.float32) / 255
    lines = dark * np.clip(0.55 + grain[..., None] * 0.9, 0, 1) * rng.uniform(0.7, 1.0)
    paper = (grain[..., None] - 0.5) * rng.uniform(6, 16)
    return np.clip((1 - lines) * 255 + paper, 0, 255).astype(np.uint8)


def apply_effects(rgb: np.ndarray, effects: tuple[str, ...], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Apply ``effects`` in a fixed, natural order (lighting, then camera, then compression)."""
    out = rgb.astype(np.float32)
    h, w = rgb.shape[:2]
    if "cast" in effects:
        tint = np.array([rng.uniform(0.4, 1.0) for _ in range(3)], np.float32)
        tint /= tint.max()
        out = out * (1 - strength * 0.6 + strength * 0.6 * tint)
    if "glow" in effects:
        blurred = np.asarray(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(w * 0.02)), np.float32)
        out = 255 - (255 - out) * (255 - blurred * strength * 0.8) / 255  # screen blend
    if "vignette" in effects:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx / w - 0.5, yy / h - 0.5) / 0.707
        out = out * (1 - strength * 0.85 * r**2)[..., None]
    if "noise" in effects:
        out = out + rng.normal(0, 3 + 10 * strength, out.shape[:2] + (1,)).astype(np.float32)
    out8 = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if "blur" in effects:
        out8 = np.asarray(Image.fromarray(out8).filter(ImageFilter.GaussianBlur(0.6 + 1.6 * strength)))
    if "jpeg" in effects:
        buf = io.BytesIO()
        Image.fromarray(out8).save(buf, format="JPEG", quality=int(85 - 60 * strength))
        out8 = np.asarray(Image.open(buf).convert("RGB"))
    return out8
