"""A whole picture from a seed: style, background, 1 to 5 characters in depth order, foreground
occluders and finishing effects, with its exact label map and difficulty tag.

Every random choice comes from generators seeded by ``(seed, attempt, stream)``, with one stream
per concern (plan, background, each character, occluders, effects), so the same seed always
gives the same picture, whatever the process, and forcing one control (say the background)
leaves the characters as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Mapping

import numpy as np
from PIL import Image

from animeparse.metadata import DIFFICULTIES, STYLES
from animeparse.synth.background import BACKGROUNDS, SIMPLE_BACKGROUNDS, render_background
from animeparse.synth.canvas import Canvas
from animeparse.synth.character import VIEWS, CharacterSpec, draw_character, sample_character
from animeparse.synth.colors import mix
from animeparse.synth.effects import EFFECTS, STRONG_LIGHT, apply_effects, pencil, screentone, soften
from animeparse.synth.geometry import Affine
from animeparse.synth.materials import Inker
from animeparse.synth.occluders import OCCLUDERS, composite, draw_occluders
from animeparse.synth.shading import SHADINGS, Look, compose

FRAMINGS = ("portrait", "bust", "half", "full", "chibi")
MAX_CHARACTERS = 5
MIN_SIZE, MAX_SIZE = 64, 2048
MAX_ATTEMPTS = 12
"""Scenes redrawn at most this often to meet a requested difficulty (each attempt has its own seeds)."""

# Difficulty rules, applied to what was drawn (see grade()).
SMALL_HEAD = 0.06  # a head shorter than this fraction of the image makes the picture hard
MEDIUM_HEAD = 0.085  # ... shorter than this, at least medium (a full figure filling the frame is large)
HEAVY_OCCLUSION = 0.6  # a character with less than this fraction visible: hard
SOME_OCCLUSION = 0.9  # ... less than this: at least medium
STRONG_EFFECT = 0.6  # lighting effects above this strength count as strong lighting


@dataclass(frozen=True)
class Controls:
    """Optional overrides of the random choices; None leaves a choice to the seed."""

    style: str | None = None
    shading: str | None = None  # color style only: flat, cel, soft
    difficulty: str | None = None
    num_characters: int | None = None
    framing: str | None = None  # every character's framing
    view: str | None = None  # every character's view
    background: str | None = None
    occluders: bool | tuple[str, ...] | None = None  # False none, True some, or exactly these kinds
    effects: bool | None = None  # False: the clean render (no softening, artifacts or lighting)

    def __post_init__(self) -> None:
        for name, allowed in (("style", STYLES), ("shading", SHADINGS), ("difficulty", DIFFICULTIES),
                              ("framing", FRAMINGS), ("view", VIEWS), ("background", BACKGROUNDS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"{name}={value!r}: choose from {', '.join(allowed)}")
        n = self.num_characters
        if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= MAX_CHARACTERS):
            raise ValueError(f"num_characters={n!r}: a whole number from 1 to {MAX_CHARACTERS}")
        if isinstance(self.occluders, tuple):
            unknown = [k for k in self.occluders if k not in OCCLUDERS]
            if unknown:
                raise ValueError(f"occluders={self.occluders!r}: unknown kinds {unknown}; choose from {', '.join(OCCLUDERS)}")
        elif self.occluders is not None and not isinstance(self.occluders, bool):
            raise ValueError(f"occluders={self.occluders!r}: True, False or a tuple of kinds")
        if self.difficulty == "easy":
            clash = [f"{k}={v!r}" for k, v, ok in (
                ("style", self.style, self.style != "lineart"),
                ("num_characters", n, n in (None, 1)),
                ("background", self.background, self.background in (None, *SIMPLE_BACKGROUNDS)),
                ("occluders", self.occluders, not self.occluders),
            ) if not ok]
            if clash:
                raise ValueError(f"difficulty='easy' needs one character on a simple background, in color or manga, "
                                 f"without occluders; got {', '.join(clash)}")
        if self.difficulty == "medium" and (self.style == "lineart" or (n or 1) >= 3):
            raise ValueError(f"difficulty='medium' cannot have style='lineart' or 3 or more characters "
                             f"(style={self.style!r}, num_characters={n!r})")


@dataclass(frozen=True)
class Sample:
    """A rendered picture and its exact labels."""

    image: Image.Image  # RGB
    label: Image.Image  # mode L, 16-class ids (animeparse.labels.SCHEMA_16)
    difficulty: str
    style: str
    num_characters: int
    seed: int
    tags: Mapping[str, str] = field(default_factory=dict)  # shading, background, framing, views, occluders, effects


@dataclass(frozen=True)
class Stats:
    """What was drawn, as far as difficulty is concerned."""

    num_characters: int
    min_head: float  # smallest head height over image height
    min_visible: float  # smallest visible fraction of a character's drawn pixels
    busy_background: bool
    strong_light: bool
    sketch: bool


def grade(s: Stats) -> str:
    """Difficulty from what was drawn: hard for sketches, crowds (3+), small characters, heavy
    occlusion or strong lighting; medium for two characters, busy backgrounds, partial occlusion
    or smallish characters; easy otherwise (one large character on a simple background)."""
    if s.sketch or s.num_characters >= 3 or s.min_head < SMALL_HEAD or s.min_visible < HEAVY_OCCLUSION or s.strong_light:
        return "hard"
    if s.num_characters == 2 or s.busy_background or s.min_visible < SOME_OCCLUSION or s.min_head < MEDIUM_HEAD:
        return "medium"
    return "easy"


@dataclass(frozen=True)
class Placement:
    spec: CharacterSpec
    framing: str
    x: float  # pixel position of the head centre
    y: float
    scale: float  # pixels per head unit
    lean: float  # whole-figure tilt, radians


@dataclass(frozen=True)
class Plan:
    style: str
    look: Look
    inker: Inker
    line_k: float  # outline width per pixel of head height
    shade_k: float  # shadow offset per pixel of head height
    background: str
    placements: tuple[Placement, ...]
    occluders: tuple[str, ...]
    effects: tuple[str, ...]
    strength: float
    softness: float
    pencil: bool  # line art with graphite texture


def _streams(seed: int, attempt: int):
    return lambda stream: np.random.default_rng([seed, attempt, stream])


def _pick(rng: np.random.Generator, options, weights) -> str:
    w = np.asarray(weights, float)
    return options[rng.choice(len(options), p=w / w.sum())]


def _plan(seed: int, attempt: int, size: int, c: Controls) -> Plan:
    rng_of = _streams(seed, attempt)
    rng = rng_of(0)
    target = c.difficulty
    # A hard picture needs at least one reason to be hard; pick it first and shape the rest around it.
    hard_reason = _pick(rng, ("sketch", "crowd", "small", "light", "occluded"), (0.25, 0.3, 0.2, 0.15, 0.1)) if target == "hard" else None
    if c.style:
        style = c.style
    elif target in ("easy", "medium"):
        style = _pick(rng, ("color", "manga"), (0.85, 0.15))
    elif hard_reason == "sketch":
        style = "lineart"
    else:
        style = _pick(rng, STYLES, (0.78, 0.1, 0.12))

    if c.num_characters:
        n = c.num_characters
    elif target == "easy":
        n = 1
    elif target == "medium":
        n = 1 if rng.random() < 0.55 else 2
    elif hard_reason == "crowd":
        n = int(rng.integers(3, MAX_CHARACTERS + 1))
    else:
        n = int(_pick(rng, (1, 2, 3, 4, 5), (0.62, 0.2, 0.08, 0.06, 0.04)))

    medium_reason = _pick(rng, ("two", "busy", "occluders", "smaller"), (0.2, 0.45, 0.2, 0.15)) if target == "medium" and n == 1 else None
    if c.background:
        background = c.background
    elif target == "easy" or (style == "lineart" and rng.random() < 0.75):
        background = _pick(rng, SIMPLE_BACKGROUNDS, (0.4, 0.3, 0.3))
    elif medium_reason == "busy":
        background = _pick(rng, BACKGROUNDS[3:], (0.15, 0.35, 0.2, 0.15, 0.15))
    else:
        background = _pick(rng, BACKGROUNDS, (0.2, 0.13, 0.17, 0.08, 0.2, 0.1, 0.06, 0.06))

    if isinstance(c.occluders, tuple):
        occluders = c.occluders
    elif c.occluders is False or target == "easy":
        occluders = ()
    elif c.occluders or medium_reason == "occluders" or hard_reason == "occluded" or rng.random() < 0.3:
        k = 1 + int(rng.random() < 0.3)
        occluders = tuple(OCCLUDERS[i] for i in rng.choice(len(OCCLUDERS), k, replace=False))
    else:
        occluders = ()

    if c.effects is False:
        effects, strength, softness = (), 0.0, 0.0
    else:
        softness = rng.uniform(0.3, 0.75)
        odds = {"cast": 0.12, "glow": 0.08, "vignette": 0.1, "noise": 0.15, "blur": 0.1, "jpeg": 0.25}
        effects = tuple(e for e in EFFECTS if rng.random() < odds[e])
        if hard_reason == "light":
            effects = tuple(sorted(set(effects) | {_pick(rng, STRONG_LIGHT, (1, 1, 1))}, key=EFFECTS.index))
        if c.effects and not effects:
            effects = (EFFECTS[rng.integers(len(EFFECTS))],)
        strength = rng.uniform(STRONG_EFFECT + 0.05, 1.0) if hard_reason == "light" else rng.uniform(0.15, 0.8)
        if target in ("easy", "medium"):
            strength = min(strength, STRONG_EFFECT)

    if style == "color":
        shading = c.shading or _pick(rng, SHADINGS, (0.25, 0.45, 0.3))
    else:
        shading = "cel" if style == "manga" else "flat"
    angle = rng.uniform(0.35, 1.25) * rng.choice([-1, 1]) + np.pi / 2  # light from above, left or right
    look = Look(style=style, shading=shading, light=(float(np.cos(angle)), float(np.sin(angle))),
                outlines=style != "color" or rng.random() < 0.95,
                paper=mix((255, 255, 255), (245, 238, 222), rng.uniform(0, 1)) if style == "lineart" else (255, 255, 255))
    inker = Inker(colored_lines=style == "color" and rng.random() < 0.6, shadow_depth=rng.uniform(0.14, 0.3))

    framing = c.framing
    if framing is None:
        if n == 1:
            framing = _pick(rng, FRAMINGS, (0.2, 0.24, 0.22, 0.2, 0.14))
        else:
            framing = _pick(rng, ("bust", "half", "full", "chibi"), (0.2, 0.35, 0.35, 0.1))
    small = hard_reason == "small" or (target is None and n == 1 and rng.random() < 0.08)
    smaller = medium_reason == "smaller"
    if medium_reason == "two":
        n = 2
    placements = _place(rng_of, rng, size, n, framing, c.view, small, smaller)
    pencil = style == "lineart" and c.effects is not False and rng.random() < 0.7
    return Plan(style, look, inker, rng.uniform(0.012, 0.022), rng.uniform(0.06, 0.12), background, placements,
                occluders, effects, float(strength), float(softness), pencil)


def _lean(rng: np.random.Generator) -> float:
    return float(np.clip(rng.normal(0.0, 0.04), -0.1, 0.1))


def _extent(spec: CharacterSpec, framing: str) -> tuple[float, float]:
    """Top and bottom (head units) of the part of the figure a framing shows."""
    sk = spec.skeleton
    r = sk.p.length
    bottom = {"portrait": 1.0, "bust": sk.chest_y + 0.3 * r, "half": sk.hip_y + 0.15 * r}.get(framing, sk.sole_y + 0.05)
    return spec.top_y(), bottom


def _place(rng_of, rng: np.random.Generator, size: int, n: int, framing: str, view: str | None,
           small: bool, smaller: bool) -> tuple[Placement, ...]:
    # A close-up of the back of a head shows nothing but hair: back views only from half length.
    specs = [sample_character(rng_of(10 + i), chibi=framing == "chibi", view=view,
                              back_view_ok=framing not in ("portrait", "bust")) for i in range(n)]
    figure_framing = "full" if framing == "chibi" else framing
    if small and figure_framing in ("portrait", "bust", "half"):
        figure_framing = "full"
    out = []
    if n == 1:
        spec = specs[0]
        top, bottom = _extent(spec, figure_framing)
        fill = rng.uniform(0.8, 1.12) if figure_framing == "portrait" else rng.uniform(0.82, 1.0)
        if smaller:
            fill *= rng.uniform(0.6, 0.8)
        if small:
            fill = rng.uniform(0.15, 0.4)
        u = size * fill / (bottom - top)
        x = size * rng.uniform(0.15, 0.85) if small else size * rng.uniform(0.38, 0.62)
        if figure_framing in ("portrait", "bust", "half") and not smaller:
            top_px = size * (1 - fill) + rng.uniform(-0.05, 0.04) * size
        else:
            top_px = rng.uniform(0.02, 0.98 - fill) * size if fill < 0.96 else size * (1 - fill) / 2
        out.append(Placement(spec, framing, x, top_px - top * u, u, _lean(rng)))
        return tuple(out)
    base = min(size * rng.uniform(0.7, 0.95), size * 3.0 / n)
    slots = rng.permutation(n)
    for i, spec in enumerate(specs):
        top, bottom = _extent(spec, figure_framing)
        u = min(base / (bottom - top), size / (n * 1.5)) * rng.uniform(0.8, 1.1)
        x = size * (slots[i] + 0.5) / n + rng.uniform(-0.25, 0.25) * size / n
        height = (bottom - top) * u
        if figure_framing == "full":
            top_px = rng.uniform(0.05, 0.95) * max(size - height, 0.0)
        else:
            top_px = size - height + rng.uniform(0.0, 0.06) * size
        out.append(Placement(spec, framing, x, top_px - top * u, u, _lean(rng)))
    return tuple(sorted(out, key=lambda p: p.scale))  # nearer (larger) characters are drawn last


def _draw(plan: Plan, seed: int, attempt: int, size: int) -> Sample:
    rng_of = _streams(seed, attempt)
    canvas = Canvas(size, size)
    drawn = []
    for p in plan.placements:
        first = canvas.num_parts + 1
        line_px = int(np.clip(round(p.scale * plan.line_k), 1, 5))
        draw_character(canvas, p.spec, Affine.place(p.x, p.y, p.scale, angle=p.lean), plan.inker, line_px, p.scale * plan.shade_k)
        inside = (canvas.ids >= first) & (canvas.ids <= canvas.num_parts)
        drawn.append((first, canvas.num_parts, int(np.count_nonzero(inside))))
    layer = draw_occluders(size, plan.occluders, rng_of(2), monochrome=plan.style != "color")
    covered = np.asarray(layer)[..., 3] > 0

    visible = []
    for first, last, count in drawn:
        now = np.count_nonzero((canvas.ids >= first) & (canvas.ids <= last) & ~covered)
        visible.append(now / count if count else 1.0)
    stats = Stats(
        num_characters=len(plan.placements),
        min_head=min(p.scale for p in plan.placements) / size,
        min_visible=min(visible),
        busy_background=plan.background not in SIMPLE_BACKGROUNDS,
        strong_light=any(e in STRONG_LIGHT for e in plan.effects) and plan.strength > STRONG_EFFECT,
        sketch=plan.style == "lineart",
    )

    background = render_background(plan.background, size, rng_of(1))
    if plan.style == "lineart":  # a sketch keeps its background faint
        background = (background.astype(np.float32) * 0.3 + np.asarray(plan.look.paper, np.float32) * 0.7).astype(np.uint8)
    rgb, label = compose(canvas, background, plan.look)
    fx = rng_of(3)
    if plan.style == "manga":
        rgb = screentone(rgb, fx)
    elif plan.pencil:
        rgb = pencil(rgb, fx)
    rgb = composite(rgb, layer)
    label[covered] = 0
    if plan.softness:
        rgb = soften(rgb, plan.softness)
    rgb = apply_effects(rgb, plan.effects, plan.strength, fx)
    tags = {
        "shading": plan.look.shading, "background": plan.background,
        "framing": plan.placements[0].framing, "views": ",".join(p.spec.view for p in plan.placements),
        "occluders": ",".join(plan.occluders), "effects": ",".join(plan.effects),
    }
    return Sample(Image.fromarray(rgb, "RGB"), Image.fromarray(label, "L"), grade(stats), plan.style,
                  len(plan.placements), seed, tags)


def render(seed: int, size: int = 512, **controls) -> Sample:
    """Render the picture of ``seed``: a ``size`` x ``size`` RGB image and its 16-class label map.

    ``controls`` (all optional) force choices: ``style`` (color, lineart, manga), ``shading``
    (flat, cel, soft), ``difficulty`` (easy, medium, hard), ``num_characters`` (1 to 5), ``framing``
    (portrait, bust, half, full, chibi), ``view`` (front, three_quarter, back), ``background``
    (white, solid, gradient, pattern, scenery, room, bokeh, noise), ``occluders`` (False, True or a
    tuple of text, bubble, petals, branch, sparkles, frame, snow) and ``effects`` (False for a
    clean render, True for at least one artifact). The same seed and controls always give the
    same bytes.
    """
    known = {f.name for f in fields(Controls)}
    unknown = sorted(set(controls) - known)
    if unknown:
        raise TypeError(f"render() got unknown controls {unknown}; known: {', '.join(sorted(known))}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r}: a whole number >= 0")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size={size!r}: a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}")
    c = Controls(**controls)
    for attempt in range(MAX_ATTEMPTS):
        sample = _draw(_plan(int(seed), attempt, int(size), c), int(seed), attempt, int(size))
        if c.difficulty is None or sample.difficulty == c.difficulty:
            return sample
    raise RuntimeError(f"seed {seed}: no {c.difficulty} picture in {MAX_ATTEMPTS} attempts with controls {controls}")
