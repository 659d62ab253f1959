"""Clothing over the body: tops with sleeves (shirt, sailor uniform, jacket, hoodie, sleeveless,
dress bodice), bottoms (skirt, shorts, trousers, dress skirt), legwear (socks, stockings, shoes,
boots), with stripes, plaid and dots.

A dress is labeled as a top above the waist and a bottom below it, as the class schema says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animeparse.synth.body import foot, limb_outline, torso_outline
from animeparse.synth.canvas import RGB, Material, Pattern, Pen
from animeparse.synth.colors import WHITE, accent_color, cloth_color, mix
from animeparse.synth.geometry import Points, bezier, ellipse, mirror, stroke, taper
from animeparse.synth.materials import Inker
from animeparse.synth.skeleton import Limb, Skeleton

TOPS = ("shirt", "sailor", "jacket", "hoodie", "sleeveless", "dress")
SLEEVES = ("none", "short", "puffy", "long")
BOTTOMS = ("skirt", "shorts", "trousers")
LEGWEAR = ("none", "socks", "knee_socks", "thigh_highs", "pantyhose")
SHOES = ("loafers", "sneakers", "boots")
PATTERNS = ("stripes", "plaid", "dots")


@dataclass(frozen=True)
class Fabric:
    color: RGB
    pattern: str | None = None  # stripes, plaid, dots
    pattern_color: RGB = WHITE
    period: float = 0.1  # head units
    angle: float = 0.0

    def material(self, ink: Inker, cls: str, pen: Pen) -> Material:
        pattern = None
        if self.pattern:
            pattern = Pattern(self.pattern, self.pattern_color, period=max(3.0, self.period * pen.px), angle=self.angle,
                              width=0.3 if self.pattern != "dots" else 0.4)
        return ink.solid(cls, self.color, casts=True, pattern=pattern)


@dataclass(frozen=True)
class Outfit:
    top: str
    top_fabric: Fabric
    inner: RGB  # shirt under a jacket, sailor collar, cuffs
    accent: RGB  # ribbons and trims
    sleeves: str
    tucked: bool
    bottom: str
    bottom_fabric: Fabric
    skirt_length: float  # 0 mini ... 1 ankle
    legwear: str
    legwear_color: RGB
    shoes: str
    shoe_color: RGB


def _fabric(rng: np.random.Generator, pattern_p: float) -> Fabric:
    color = cloth_color(rng)
    if rng.random() < pattern_p:
        kind = PATTERNS[rng.integers(len(PATTERNS))]
        other = mix(color, WHITE if sum(color) < 450 else (20, 20, 40), rng.uniform(0.35, 0.7))
        return Fabric(color, kind, other, rng.uniform(0.06, 0.16), rng.choice([0.0, np.pi / 4, np.pi / 2]))
    return Fabric(color)


def sample_outfit(rng: np.random.Generator, masculine: bool) -> Outfit:
    top = TOPS[rng.choice(len(TOPS), p=[0.22, 0.2, 0.16, 0.12, 0.12, 0.18] if not masculine else [0.35, 0.05, 0.3, 0.2, 0.1, 0.0])]
    top_fabric = _fabric(rng, 0.2)
    if top == "sailor":
        top_fabric = Fabric(mix(WHITE, cloth_color(rng), rng.uniform(0.0, 0.15)))
    sleeves = SLEEVES[rng.choice(4, p=[0.05, 0.35, 0.15, 0.45])]
    if top == "sleeveless":
        sleeves = "none"
    if top in ("jacket", "hoodie"):
        sleeves = "long"
    if masculine:
        bottom = BOTTOMS[rng.choice(3, p=[0.0, 0.25, 0.75])]
    else:
        bottom = BOTTOMS[rng.choice(3, p=[0.65, 0.2, 0.15])]
    bottom_fabric = _fabric(rng, 0.35 if bottom == "skirt" else 0.1)
    if top == "dress":
        bottom, bottom_fabric = "skirt", top_fabric
    legwear = LEGWEAR[rng.choice(5, p=[0.25, 0.2, 0.25, 0.15, 0.15])]
    if bottom == "trousers":
        legwear = "none"
    legwear_color = (WHITE if rng.random() < 0.35 else (30, 28, 38)) if rng.random() < 0.7 else cloth_color(rng)
    shoes = SHOES[rng.choice(3, p=[0.45, 0.3, 0.25])]
    return Outfit(
        top=top, top_fabric=top_fabric, inner=cloth_color(rng) if top != "jacket" else mix(WHITE, cloth_color(rng), 0.1),
        accent=accent_color(rng), sleeves=sleeves, tucked=bool(rng.random() < 0.5), bottom=bottom,
        bottom_fabric=bottom_fabric, skirt_length=rng.uniform(0.0, 1.0) ** 1.6, legwear=legwear,
        legwear_color=legwear_color, shoes=shoes, shoe_color=cloth_color(rng) if rng.random() < 0.5 else (60, 40, 35),
    )


def hem_y(sk: Skeleton, outfit: Outfit) -> float:
    r = sk.p.length
    if outfit.top == "dress":
        return sk.waist_y
    return sk.waist_y + 0.1 * r if outfit.tucked else sk.hip_y + 0.12 * r


def draw_hood(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker) -> None:
    """The hood of a hoodie lies on the shoulders behind the neck: drawn before the torso."""
    if outfit.top != "hoodie":
        return
    p = sk.p
    hood = ellipse(0.0, sk.shoulder_y - 0.04, p.neck * 3.2, 0.2 * max(p.length, 0.5), 24)
    pen.fill(outfit.top_fabric.material(ink, "top", pen), hood)


def draw_top(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker, back_view: bool) -> int:
    """The body of the top (the dress bodice included) with its collar; returns its part id."""
    p, r = sk.p, sk.p.length
    mat = outfit.top_fabric.material(ink, "top", pen)
    top_y = sk.shoulder_y - 0.03
    kind = outfit.top
    if back_view:
        body = torso_outline(sk, 0.03, top_y, hem_y(sk, outfit), neck_depth=0.02)
        pid = pen.fill(mat, body)
        if kind == "sailor":
            flap = np.array([[-p.shoulder * 0.8, top_y], [p.shoulder * 0.8, top_y], [p.shoulder * 0.7, top_y + 0.5 * r],
                             [-p.shoulder * 0.7, top_y + 0.5 * r]])
            pen.fill(ink.solid("top", outfit.inner), flap)
        return pid
    if kind == "jacket":
        shirt = torso_outline(sk, 0.02, top_y, hem_y(sk, outfit), neck_depth=0.04)
        pen.fill(ink.solid("top", outfit.inner), shirt)
        _collar(pen, sk, ink, outfit.inner, top_y)
        panels = []
        body = torso_outline(sk, 0.05, top_y, sk.hip_y + 0.18 * r)
        for side in (1, -1):
            half = body[body[:, 0] * side >= 0]
            edge = np.array([[side * 0.12, sk.hip_y + 0.18 * r], [side * (p.neck + 0.06), top_y + 0.55 * r],
                             [side * (p.neck + 0.02), top_y]])
            panels.append(np.vstack([half, edge]) if side == 1 else np.vstack([half[::-1], edge]))
        return pen.fill(mat, *panels)
    depth = {"shirt": 0.04, "sailor": 0.45 * r, "hoodie": 0.06, "sleeveless": 0.18 * r, "dress": 0.14 * r}[kind]
    top = top_y + (0.06 * r if kind == "sleeveless" else 0.0)
    grow = 0.03 if kind != "sleeveless" else 0.0
    pid = pen.fill(mat, torso_outline(sk, grow, top, hem_y(sk, outfit), neck_depth=depth, v_neck=kind == "sailor"))
    _folds(pen, sk, ink, outfit.top_fabric.color, pid)
    if kind == "shirt":
        _collar(pen, sk, ink, outfit.inner if outfit.inner != outfit.top_fabric.color else WHITE, top_y)
    elif kind == "sailor":
        _sailor_collar(pen, sk, ink, outfit, top_y)
    elif kind == "hoodie":
        for side in (1, -1):
            cord = np.array([[side * 0.07, top_y + 0.05], [side * 0.08, top_y + 0.55 * r]])
            pen.stroke(ink.solid("top", WHITE, shade=False), cord, 0.025, min_px=1.0)
        pocket = np.array([[-0.25, sk.waist_y], [0.25, sk.waist_y], [0.32, sk.hip_y], [-0.32, sk.hip_y]]) * (p.waist / 0.32, 1)
        pen.fill(ink.solid("top", mix(outfit.top_fabric.color, (0, 0, 0), 0.1)), pocket)
    return pid


def _folds(pen: Pen, sk: Skeleton, ink: Inker, color: RGB, pid: int) -> None:
    """Fold lines from the armpits toward the chest and across the waist, as cloth drapes."""
    p, r = sk.p, sk.p.length
    crease = ink.ink("top", ink.line_color(color))
    for side in (1, -1):
        start = np.array([side * (p.shoulder - 0.08), sk.shoulder_y + 0.3 * r])
        line = bezier(start, start + (-side * 0.08, 0.12 * r), start + (-side * 0.2, 0.2 * r), n=8)
        pen.stroke(crease, line, taper(8, 0.004, 0.012, 0.002, at=0.4), clip=[pid], min_px=0.7)
        w = np.array([side * (p.waist - 0.02), sk.waist_y - 0.05 * r])
        pen.stroke(crease, bezier(w, w + (-side * 0.1, 0.03 * r), w + (-side * 0.18, 0.0), n=8),
                   taper(8, 0.003, 0.01, 0.002, at=0.5), clip=[pid], min_px=0.7)


def _collar(pen: Pen, sk: Skeleton, ink: Inker, color: RGB, top_y: float) -> None:
    w = sk.p.neck
    flaps = [np.array([[side * w * 0.4, top_y + 0.04], [side * (w + 0.06), top_y - 0.04],
                       [side * (w + 0.1), top_y + 0.1], [side * 0.03, top_y + 0.16]]) for side in (1, -1)]
    pen.fill(ink.solid("top", color), *flaps)


def _sailor_collar(pen: Pen, sk: Skeleton, ink: Inker, outfit: Outfit, top_y: float) -> None:
    p, r = sk.p, sk.p.length
    flap = np.array([[0.0, top_y + 0.45 * r], [p.neck + 0.05, top_y - 0.01], [p.shoulder * 0.9, top_y + 0.02],
                     [p.shoulder * 0.75, top_y + 0.25 * r], [0.12 * r, top_y + 0.55 * r]])
    mat = ink.solid("top", outfit.inner)
    pen.fill(mat, flap, mirror(flap))
    stripe = ink.flat("top", WHITE)
    for side in (1, -1):
        line = np.array([[0.05 * r, top_y + 0.47 * r], [p.shoulder * 0.67, top_y + 0.2 * r]]) * (side, 1)
        pen.stroke(stripe, line, 0.018, min_px=0.8)
    bow_y = top_y + 0.48 * r
    _bow(pen, ink, outfit.accent, np.array([0.0, bow_y]), 0.22 * max(r, 0.5), tails=True)


def _bow(pen: Pen, ink: Inker, color: RGB, at: np.ndarray, size: float, tails: bool, cls: str = "accessories") -> int:
    """A ribbon bow: two loops, a knot, optional hanging tails."""
    s = size
    shapes = []
    for side in (1, -1):
        shapes.append(np.array([[0.0, 0.0], [side * s * 0.55, -s * 0.3], [side * s * 0.62, s * 0.22]]) + at)
        if tails:
            shapes.append(np.array([[0.0, 0.0], [side * s * 0.35, s * 0.75], [side * s * 0.12, s * 0.8]]) + at)
    shapes.append(ellipse(at[0], at[1], s * 0.12, s * 0.12, 10))
    return pen.fill(ink.solid(cls, color), *shapes)


def sleeve_shapes(arm: Limb, kind: str) -> list[Points]:
    if kind == "short":
        return limb_outline(arm, 0.035, 0.0, 0.55)
    if kind == "puffy":  # a short sleeve gathered into a round puff
        return limb_outline(arm, arm.widths[0] * 0.3, 0.0, 0.4)
    return limb_outline(arm, 0.03, 0.0, 1.9)


def draw_sleeve(pen: Pen, arm: Limb, outfit: Outfit, ink: Inker) -> None:
    if outfit.sleeves == "none":
        return
    sleeve = pen.fill(outfit.top_fabric.material(ink, "top", pen), *sleeve_shapes(arm, outfit.sleeves))
    if outfit.sleeves == "long":  # creases across the inside of the elbow
        crease = ink.ink("top", ink.line_color(outfit.top_fabric.color))
        d = (arm.end - arm.mid) / np.linalg.norm(arm.end - arm.mid)
        across = np.array([-d[1], d[0]]) * arm.widths[1] * 0.45
        for k, t in ((0, 0.1), (1, 0.25)):
            c = arm.mid + d * t * np.linalg.norm(arm.end - arm.mid)
            pen.stroke(crease, bezier(c - across, c + d * 0.03 + across * 0.1 * (k - 0.5), c + across * 0.7, n=8),
                       taper(8, 0.004, 0.012, 0.003, at=0.5), clip=[sleeve], min_px=0.7)
    if outfit.sleeves == "long" and outfit.top in ("shirt", "sailor", "dress"):
        cuff = limb_outline(arm, 0.04, 1.78, 1.92)
        pen.fill(ink.solid("top", outfit.inner if outfit.top == "sailor" else outfit.top_fabric.color), *cuff)


def draw_legwear(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker, foot_scale: float) -> None:
    start = {"socks": 1.75, "knee_socks": 1.12, "thigh_highs": 0.45, "pantyhose": 0.0}.get(outfit.legwear)
    if start is not None:
        color = outfit.legwear_color
        if outfit.legwear == "pantyhose":
            color = mix(color, (40, 30, 40), 0.5)
        shapes = []
        for leg in sk.legs:
            shapes += limb_outline(leg, 0.012, start, 2.0)
            shapes.append(foot(leg, foot_scale, 0.01))
        pen.fill(ink.solid("legwear", color), *shapes)
    shoes = []
    for leg in sk.legs:
        shoes.append(foot(leg, foot_scale, 0.035))
        if outfit.shoes == "boots":
            shoes += limb_outline(leg, 0.03, 1.45, 2.0)
    pen.fill(ink.solid("legwear", outfit.shoe_color), *shoes)


def draw_bottom(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker) -> int:
    r = sk.p.length
    mat = outfit.bottom_fabric.material(ink, "bottom", pen)
    if outfit.bottom == "skirt":
        return _skirt(pen, sk, outfit, ink, mat)
    stop = 0.4 if outfit.bottom == "shorts" else 1.93
    shapes = [torso_outline(sk, 0.035, sk.waist_y - 0.02 * r, sk.crotch_y + 0.05 * r)]
    for leg in sk.legs:
        shapes += limb_outline(leg, 0.04, 0.0, stop)
    return pen.fill(mat, *shapes)


def _skirt(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker, mat: Material) -> int:
    p, r = sk.p, sk.p.length
    top = sk.waist_y - 0.03 * r
    hem = sk.crotch_y + 0.25 * r + outfit.skirt_length * (sk.legs[0].end[1] - 0.35 * r - sk.crotch_y - 0.25 * r)
    legs_x = max(abs(_leg_x_at(leg, hem)) + leg.widths[1] * 0.6 for leg in sk.legs)
    w_hem = max(p.hip * 1.2, legs_x + 0.05)
    right = bezier((p.waist + 0.03, top), (p.hip + 0.08, sk.hip_y), (w_hem, hem), n=12)
    n = 7 + int(3 * outfit.skirt_length)
    xs = np.linspace(w_hem, -w_hem, 2 * n + 1)
    hem_line = np.stack([xs, hem + 0.04 * r * (np.arange(2 * n + 1) % 2)], axis=1)
    pid = pen.fill(mat, np.vstack([right, hem_line[1:-1], mirror(right)[::-1]]))
    crease = ink.ink("bottom", ink.line_color(outfit.bottom_fabric.color))
    for x in xs[2:-2:2]:
        line = np.array([[x * (p.waist + 0.03) / w_hem, top + 0.1 * r], [x, hem + 0.02 * r]])
        pen.stroke(crease, line, 0.008, clip=[pid], min_px=0.6)
    return pid


def _leg_x_at(leg: Limb, y: float) -> float:
    """x of a leg's centre line at height ``y``."""
    pts = np.array([leg.root, leg.mid, leg.end])
    if y <= pts[0, 1]:
        return float(pts[0, 0])
    return float(np.interp(y, pts[:, 1], pts[:, 0])) if np.all(np.diff(pts[:, 1]) > 0) else float(pts[1, 0])


def draw_bodice_ribbon(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker) -> None:
    """A sash at the waist of a dress, hiding the seam between its top and bottom labels."""
    r = sk.p.length
    w = sk.p.waist + 0.04
    band = np.array([[-w, sk.waist_y - 0.07 * r], [w, sk.waist_y - 0.07 * r], [w, sk.waist_y + 0.03 * r], [-w, sk.waist_y + 0.03 * r]])
    pen.fill(ink.solid("accessories", outfit.accent), band)


def tie_or_ribbon(pen: Pen, sk: Skeleton, outfit: Outfit, ink: Inker, kind: str) -> None:
    """A necktie (``tie``) or a ribbon bow (``neck_ribbon``) on the chest (accessories)."""
    r = sk.p.length
    top = sk.shoulder_y + 0.02
    if kind == "neck_ribbon":
        _bow(pen, ink, outfit.accent, np.array([0.0, top + 0.06]), 0.2 * max(r, 0.5), tails=True)
        return
    tie = np.array([[-0.035, top], [0.035, top], [0.06, top + 0.65 * r], [0.0, top + 0.75 * r], [-0.06, top + 0.65 * r]])
    pen.fill(ink.solid("accessories", outfit.accent), tie, stroke(np.array([[-0.05, top + 0.02], [0.05, top + 0.02]]), 0.06))
