"""The anime face: round cheeks and a pointed chin, large eyes, thin brows, a small nose mark,
mouth variants and blush.

Shapes are built for a front view in head units and then turned (:func:`turn`): points on the
face are rotated about the head's vertical axis as if on a sphere, which moves the features
toward the side the character looks at and narrows the far eye, as in three-quarter views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animeparse.synth.canvas import RGB, Material, Pattern, Pen
from animeparse.synth.colors import WHITE, light_of, mix
from animeparse.synth.geometry import Points, bezier, ellipse, path, taper
from animeparse.synth.materials import CLASS_ID, Inker

HEAD_RADIUS = 0.48  # of the sphere that features are turned on

EYE_STATES = ("open", "open", "open", "open", "happy", "wink")
MOUTHS = ("line", "smile", "open", "grin", "cat", "small")


@dataclass(frozen=True)
class FaceSpec:
    skin: RGB
    iris: RGB
    brow: RGB
    turn: float  # radians; positive looks toward the image's right
    eye_size: float  # eye width in head units
    eye_height: float  # eye height / width
    eye_y: float
    eye_gap: float  # distance of each eye centre from the centre line
    slant: float  # outer corners up (+) or down (-), in eye units
    gaze: float  # iris shift inside the eye, in eye units
    eyes: str  # open, happy (closed arcs) or wink
    highlights: int
    lashes: int  # extra lash flicks at the outer corner
    mouth: str
    mouth_open: float
    blush: bool
    hatch_blush: bool
    chin: float  # 0 rounder ... 1 sharper


def sample_face(rng: np.random.Generator, skin: RGB, iris: RGB, brow: RGB, turn: float, chibi: bool,
                masculine: bool) -> FaceSpec:
    eye_size = rng.uniform(0.23, 0.29) * (1.12 if chibi else 1.0) * (0.85 if masculine else 1.0)
    return FaceSpec(
        skin=skin, iris=iris, brow=brow, turn=turn,
        eye_size=eye_size,
        eye_height=rng.uniform(0.7, 0.95) if masculine else rng.uniform(0.9, 1.35),
        eye_y=rng.uniform(0.06, 0.13) + (0.04 if chibi else 0.0),
        eye_gap=eye_size / 2 + rng.uniform(0.05, 0.08),
        slant=rng.uniform(-0.15, 0.3),
        gaze=rng.uniform(-0.2, 0.2),
        eyes=EYE_STATES[rng.integers(len(EYE_STATES))],
        highlights=int(rng.integers(1, 3)),
        lashes=0 if masculine else int(rng.integers(0, 3)),
        mouth=MOUTHS[rng.integers(len(MOUTHS))],
        mouth_open=rng.uniform(0.6, 1.3),
        blush=bool(rng.random() < (0.2 if masculine else 0.6)),
        hatch_blush=bool(rng.random() < 0.35),
        chin=rng.uniform(0.0, 1.0) * (0.6 if chibi else 1.0),
    )


def turn(points: Points, angle: float, depth: float = 0.0) -> Points:
    """Rotate points on the face (a sphere of HEAD_RADIUS, plus ``depth`` in front of it) about
    the vertical axis, as seen from the front."""
    if angle == 0.0:
        return points
    x, y = points[:, 0], points[:, 1]
    z = np.sqrt(np.maximum(HEAD_RADIUS**2 - x**2 - (0.6 * (y - 0.05)) ** 2, 0.0)) + depth
    return np.stack([x * np.cos(angle) + z * np.sin(angle), y], axis=1)


def jaw(chin: float) -> Points:
    """The lower face outline (cheeks to chin and back), front view."""
    k = 1.0 - 0.55 * chin  # how wide the jaw stays near the chin
    right = bezier((0.45, -0.05), (0.47, 0.24), (0.3 * k + 0.06, 0.45), (0.0, 0.5), n=18)
    left = right[::-1] * (-1, 1)
    return path(right, left[1:])


def skull() -> Points:
    return ellipse(0.0, -0.04, 0.46, 0.47, 40)


def draw_ears(pen: Pen, spec: FaceSpec, ink: Inker) -> None:
    face = ink.solid("face", spec.skin)
    for side in (1, -1):
        ear = ellipse(0.0, 0.0, 0.06, 0.11, 14) + (side * 0.45, 0.1)
        center = turn(np.array([[side * 0.45, 0.1]]), spec.turn, -0.12)[0]
        pen.fill(face, ear - (side * 0.45, 0.1) + center)


def draw_face(pen: Pen, spec: FaceSpec, ink: Inker) -> int:
    """The face skin (skull and jaw as one part); returns its part id for clipping details."""
    # The face casts the shadow under the chin; its own shading comes from the bangs, not its rim.
    return pen.fill(ink.solid("face", spec.skin, casts=True, rim=False), skull() + (-0.04 * np.sin(spec.turn), 0.0),
                    turn(jaw(spec.chin), spec.turn))


def draw_features(pen: Pen, spec: FaceSpec, ink: Inker, face: int) -> None:
    """Eyes, brows, nose, mouth and blush, over the face part."""
    if spec.blush:
        _blush(pen, spec, ink, face)
    for side in (1, -1):
        closed = spec.eyes == "happy" or (spec.eyes == "wink" and side == -1)
        _eye(pen, spec, ink, side, closed)
        _brow(pen, spec, ink, side)
    _nose(pen, spec, ink)
    _mouth(pen, spec, ink)


def _eye_points(spec: FaceSpec, side: int, local: Points) -> Points:
    """Eye units (half the eye width = 1, outer corner at +x) to head units, turned."""
    center = np.array([side * spec.eye_gap, spec.eye_y])
    return turn(center + local * (side * spec.eye_size / 2, spec.eye_size / 2), spec.turn)


def _eye(pen: Pen, spec: FaceSpec, ink: Inker, side: int, closed: bool) -> None:
    h, s = spec.eye_height, spec.slant
    lash = ink.ink("eyes")
    if closed:
        arc = bezier((-1.0, 0.15), (-0.3, -0.75 * h), (0.5, -0.8 * h), (1.1, 0.05 - s), n=16)
        pen.stroke(lash, _eye_points(spec, side, arc), taper(16, 0.01, 0.03, 0.012) * spec.eye_size / 0.2)
        return
    inner, outer = np.array([-1.0, 0.1]), np.array([1.05, -0.05 - s])
    upper = bezier(inner, (-0.75, -0.95 * h), (0.55, -1.1 * h - s * 0.5), outer, n=18)
    lower = bezier(outer, (0.75, 0.95 * h), (-0.55, 0.95 * h), inner, n=16)
    white = pen.fill(ink.flat("eyes", (250, 250, 252)), _eye_points(spec, side, path(upper, lower)))
    g = spec.gaze * side if spec.turn == 0 else spec.gaze + 0.25 * np.sign(spec.turn) * side
    dark = mix(spec.iris, (20, 10, 30), 0.55)
    iris_mat = Material(CLASS_ID["eyes"], dark, line=ink.line_color(dark), pattern=Pattern("gradient", light_of(spec.iris, 0.25)))
    iris = pen.fill(iris_mat, _eye_points(spec, side, ellipse(g, 0.12 * h, 0.64, 0.98 * h, 24)), clip=[white])
    pupil = pen.fill(ink.ink("eyes", mix(dark, (0, 0, 0), 0.5)),
                     _eye_points(spec, side, ellipse(g, 0.18 * h, 0.3, 0.5 * h, 16)), clip=[white, iris])
    shine = ink.flat("eyes", WHITE)
    pen.fill(shine, _eye_points(spec, side, ellipse(g - 0.28, -0.28 * h, 0.22, 0.3 * h, 12)), clip=[white, iris, pupil])
    if spec.highlights > 1:
        pen.fill(shine, _eye_points(spec, side, ellipse(g + 0.3, 0.5 * h, 0.11, 0.12 * h, 10)), clip=[iris, pupil])
    w = spec.eye_size / 0.2  # line widths were tuned for a 0.2-unit eye
    pen.stroke(lash, _eye_points(spec, side, upper), taper(18, 0.012, 0.04, 0.03, at=0.75) * w)
    flick = bezier(outer, outer + (0.22, 0.02), outer + (0.42, 0.28), n=8)
    pen.stroke(lash, _eye_points(spec, side, flick), taper(8, 0.03, 0.025, 0.004, at=0.2) * w)
    for i in range(spec.lashes):
        start = upper[-4 - 3 * i]
        tip = start + (0.3 + 0.1 * i, -0.25 - 0.1 * i)
        pen.stroke(lash, _eye_points(spec, side, bezier(start, (start + tip) / 2 + (0.05, 0.0), tip, n=6)),
                   taper(6, 0.02, 0.015, 0.003, at=0.2) * w)
    pen.stroke(lash, _eye_points(spec, side, lower[1:9]), taper(8, 0.012, 0.012, 0.003, at=0.4) * w, min_px=0.8)


def _brow(pen: Pen, spec: FaceSpec, ink: Inker, side: int) -> None:
    h = spec.eye_height
    line = bezier((-0.95, -1.2 * h - 0.55), (-0.2, -1.45 * h - 0.75), (0.6, -1.45 * h - 0.65), (1.1, -1.2 * h - 0.35), n=12)
    pen.stroke(ink.ink("eyebrows", spec.brow), _eye_points(spec, side, line), taper(12, 0.016, 0.02, 0.006, at=0.3))


def _nose(pen: Pen, spec: FaceSpec, ink: Inker) -> None:
    mark = np.array([[0.01, 0.2], [0.025, 0.245], [0.0, 0.255]])
    color = mix(spec.skin, (150, 70, 70), 0.45)
    pen.stroke(ink.ink("face", color), turn(mark, spec.turn, 0.03), 0.012, min_px=0.8)


def _mouth(pen: Pen, spec: FaceSpec, ink: Inker) -> None:
    y, o = 0.35, spec.mouth_open
    color = mix(spec.skin, (120, 40, 50), 0.7)
    line = ink.ink("mouth", color)
    if spec.mouth == "line":
        pen.stroke(line, turn(bezier((-0.05, y), (0.0, y + 0.008), (0.05, y), n=8), spec.turn), 0.012)
    elif spec.mouth == "smile":
        pen.stroke(line, turn(bezier((-0.07, y - 0.01), (0.0, y + 0.04), (0.07, y - 0.01), n=10), spec.turn),
                   taper(10, 0.006, 0.014, 0.006, at=0.5))
    elif spec.mouth == "cat":
        for sign in (-1, 1):
            pen.stroke(line, turn(bezier((0.0, y), (sign * 0.025, y + 0.03), (sign * 0.055, y - 0.005), n=8), spec.turn), 0.011)
    else:  # open mouths: a dark inside with tongue and teeth
        w = {"open": 0.075, "grin": 0.1, "small": 0.035}[spec.mouth]
        d = {"open": 0.08, "grin": 0.06, "small": 0.04}[spec.mouth] * o
        top = bezier((-w, y - 0.01), (0.0, y + 0.01 if spec.mouth != "grin" else y - 0.02), (w, y - 0.01), n=10)
        bottom = bezier((w, y - 0.01), (w * 0.7, y + d), (-w * 0.7, y + d), (-w, y - 0.01), n=12)
        inside = ink.solid("mouth", (160, 52, 62), shade=False)
        mouth = pen.fill(inside, turn(path(top, bottom), spec.turn))
        pen.fill(ink.flat("mouth", (238, 120, 128)), turn(ellipse(0.0, y + d * 0.95, w * 0.7, d * 0.45, 14), spec.turn), clip=[mouth])
        if spec.mouth == "grin" or (spec.mouth == "open" and o > 1.0):
            pen.fill(ink.flat("mouth", WHITE), turn(path(top, top[::-1] + (0.0, d * 0.28)), spec.turn), clip=[mouth])


def _blush(pen: Pen, spec: FaceSpec, ink: Inker, face: int) -> None:
    pink = mix(spec.skin, (255, 120, 140), 0.35)
    for side in (1, -1):
        cx, cy = side * (spec.eye_gap + 0.03), spec.eye_y + spec.eye_size * 0.75
        pen.fill(ink.flat("face", pink), turn(ellipse(cx, cy, 0.085, 0.035, 16), spec.turn), clip=[face])
        if spec.hatch_blush:
            hatch = ink.flat("face", mix(pink, (220, 60, 90), 0.5))
            for k in (-1, 0, 1):
                x = cx + k * 0.03
                pen.stroke(hatch, turn(np.array([[x + 0.012, cy - 0.022], [x - 0.012, cy + 0.022]]), spec.turn),
                           0.007, clip=[face], min_px=0.6)
