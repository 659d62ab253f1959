"""Hair: the back mass behind the body (bob, long, twintails, ponytail, side tail), the front cap
with pointed bangs over the forehead, side locks along the cheeks, braids, buns and an ahoge,
with a highlight band and strand lines painted over the hair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animeparse.synth.canvas import RGB, Material, Pen
from animeparse.synth.colors import light_of, mix
from animeparse.synth.face import turn
from animeparse.synth.geometry import Points, bezier, ellipse, mirror, stroke, taper
from animeparse.synth.materials import Inker

LENGTHS = {"short": 0.42, "bob": 0.72, "medium": 1.35, "long": 2.6, "very_long": 3.8}
BACKS = ("plain", "plain", "twintails", "ponytail", "side_tail", "braids", "buns")
BANGS = ("blunt", "swept", "parted", "spiky", "long")


@dataclass(frozen=True)
class HairSpec:
    color: RGB
    length: float  # how far the back hair falls below the head centre, in head units
    back: str  # plain, twintails, ponytail, side_tail, braids, buns
    bangs: str  # blunt, swept, parted, spiky, long
    locks: int  # number of bang locks
    fringe: float  # how low the bang tips reach (0 = eyebrows)
    sweep: float  # sideways lean of the bang tips
    volume: float
    side_locks: float  # length of the locks along the cheeks (0 = none)
    ahoge: bool
    highlight: bool
    tail_length: float
    seed: int  # for the jitter of lock tips (so front and back views of a spec agree)


def sample_hair(rng: np.random.Generator, color: RGB, masculine: bool, chibi: bool) -> HairSpec:
    if masculine:
        length = LENGTHS["short"] if rng.random() < 0.75 else LENGTHS["bob"]
        back = "plain" if rng.random() < 0.85 else "ponytail"
        bangs = ("spiky", "swept", "parted")[rng.integers(3)]
    else:
        length = LENGTHS[("short", "bob", "medium", "long", "very_long")[rng.choice(5, p=[0.1, 0.2, 0.25, 0.3, 0.15])]]
        back = BACKS[rng.integers(len(BACKS))]
        bangs = BANGS[rng.integers(len(BANGS))]
    if chibi:
        length *= 0.4
    return HairSpec(
        color=color, length=length * rng.uniform(0.85, 1.15), back=back, bangs=bangs,
        locks=int(rng.integers(5, 10)), fringe=rng.uniform(-0.1, 0.02) + (0.05 if bangs == "long" else 0.0),
        sweep=rng.uniform(-0.6, 0.6) if bangs == "swept" else rng.uniform(-0.15, 0.15),
        volume=rng.uniform(0.03, 0.09) + (0.04 if masculine else 0.0),
        side_locks=0.0 if (masculine and rng.random() < 0.6) or rng.random() < 0.15 else rng.uniform(0.35, 1.2) * (0.6 if chibi else 1.0),
        ahoge=bool(rng.random() < 0.3), highlight=bool(rng.random() < 0.75),
        tail_length=rng.uniform(1.6, 3.6) * (0.5 if chibi else 1.0),
        seed=int(rng.integers(2**31)),
    )


def _materials(spec: HairSpec, ink: Inker) -> tuple[Material, Material]:
    front = ink.solid("hair", spec.color, casts=True)
    back = ink.solid("hair", mix(spec.color, (30, 20, 50), 0.18))
    return front, back


def _cap_arc(spec: HairSpec, spiky: bool) -> Points:
    r = 0.5 + spec.volume
    t = np.linspace(np.pi - 0.45, 2 * np.pi + 0.45, 40)
    rad = r + (0.05 * np.abs(np.sin(t * 7)) if spiky else 0.0)
    return np.stack([rad * np.cos(t), -0.07 + rad * np.sin(t)], axis=1)


def _bangs_edge(spec: HairSpec, rng: np.random.Generator, turn_angle: float, start, end) -> Points:
    """The lower edge of the front hair, from ``start`` (image right) to ``end``: pointed locks."""
    n = spec.locks
    xs = np.linspace(0.46, -0.46, n + 1)
    xs[1:-1] += rng.uniform(-0.25, 0.25, n - 1) * (0.92 / n)
    if spec.bangs == "parted":  # a gap at the parting: two long locks framing the forehead
        xs = np.linspace(0.46, -0.46, n + 1)
    pts = [np.asarray(start, float)[None]]
    for i in range(n):
        xa, xb = xs[i], xs[i + 1]
        xm = (xa + xb) / 2
        e = abs(xm) / 0.46
        tip_y = spec.fringe + 0.2 * e**3 + rng.uniform(-0.05, 0.05) * (2.0 if spec.bangs == "spiky" else 1.0)
        if spec.bangs == "blunt":
            tip_y = spec.fringe + 0.22 * e**4 + rng.uniform(-0.015, 0.015)
        if spec.bangs == "parted" and abs(xm) < 0.15:
            tip_y = -0.3 + 0.5 * abs(xm)
        tip = np.array([xm + spec.sweep * (xb - xa) * 0.8, tip_y])
        notch_b = np.array([xb, spec.fringe - rng.uniform(0.1, 0.2) + 0.2 * (abs(xb) / 0.46) ** 2
                            - (0.06 if spec.bangs == "parted" else 0.0)])
        a = pts[-1][-1]
        b = notch_b if i < n - 1 else np.asarray(end, float)
        c1 = np.array([a[0] * 0.45 + tip[0] * 0.55 + spec.sweep * 0.03, (a[1] + tip[1]) / 2])
        c2 = np.array([b[0] * 0.45 + tip[0] * 0.55 + spec.sweep * 0.03, (b[1] + tip[1]) / 2])
        pts.append(bezier(a, c1, tip, n=7)[1:])
        pts.append(bezier(tip, c2, b, n=7)[1:])
    return turn(np.vstack(pts), turn_angle, 0.07)


def draw_back(pen: Pen, spec: HairSpec, ink: Inker, back_view: bool) -> list[int]:
    """Hair behind the head and body; in back views the same mass is drawn in front of the head."""
    rng = np.random.default_rng(spec.seed)
    front, back = _materials(spec, ink)
    mat = front if back_view else back
    ids = []
    for tail in _tails(spec):
        ids.append(pen.fill(mat, tail))
    length = spec.length
    v = spec.volume
    w_end = rng.uniform(0.4, 0.62) if length > 1.0 else 0.5 + v  # long hair narrows toward its tips
    n = int(rng.integers(4, 8))
    tips_x = np.linspace(w_end, -w_end, n)
    right = bezier((0.5 + v, -0.1), (0.6 + v + 0.06 * min(length, 2.0), length * 0.35), (0.62 + v, length * 0.7),
                   (w_end, length * 0.9), n=14)
    bottom = [right[-1]]
    for i in range(n - 1):
        xa, xb = tips_x[i], tips_x[i + 1]
        dip = length - 0.12 * np.sqrt(max(length, 0.3)) + rng.uniform(-0.05, 0.05)
        tip = np.array([(xa + xb) / 2 + rng.uniform(-0.05, 0.05), length + rng.uniform(-0.08, 0.12) * np.sqrt(length)])
        bottom.append(tip)
        bottom.append(np.array([xb, dip if i < n - 2 else length * 0.8]))
    left = mirror(right)[::-1]
    outline = np.vstack([_cap_arc(spec, spec.bangs == "spiky"), right, np.array(bottom), left])
    ids.append(pen.fill(mat, outline))
    _strands(pen, spec, ink, ids, bottom[1::2], rng)
    return ids


def _strands(pen: Pen, spec: HairSpec, ink: Inker, hair_ids: list[int], tips, rng: np.random.Generator) -> None:
    """Strand lines falling toward the tips, and streaks of light, painted over the hair mass."""
    line_mat = ink.ink("hair", ink.line_color(spec.color))
    for tip in tips:
        top = np.array([tip[0] * 0.6 + rng.uniform(-0.1, 0.1), 0.1])
        end = np.array([tip[0], tip[1] - 0.15 * np.sqrt(spec.length)])
        line = bezier(top, (top + end) / 2 + (rng.uniform(-0.08, 0.08), 0.0), end, n=10)
        pen.stroke(line_mat, line, taper(10, 0.003, 0.012, 0.002, at=0.5), clip=hair_ids, min_px=0.7)
    if spec.highlight and spec.length > 1.0:
        light = ink.flat("hair", light_of(spec.color, 0.22))
        for side in (1, -1):
            x = side * rng.uniform(0.5, 0.6)
            streak = bezier((x, 0.5), (x + side * 0.05, spec.length * 0.45), (x - side * 0.02, spec.length * 0.75), n=10)
            pen.stroke(light, streak, taper(10, 0.01, 0.05, 0.005, at=0.4), clip=hair_ids)


def _tails(spec: HairSpec) -> list[Points]:
    """Twintails, ponytail or side tail outlines (behind the body)."""
    L = spec.tail_length
    tails = []
    sides = {"twintails": (1, -1), "side_tail": (1,), "ponytail": ()}.get(spec.back, ())
    for side in sides:
        line = bezier((0.42, -0.38), (0.95, -0.35), (0.8, L * 0.5), (0.65, L), n=24) * (side, 1)
        tails.append(stroke(line, taper(24, 0.1, 0.36, 0.02, at=0.3)))
    if spec.back == "ponytail":
        line = bezier((0.15, -0.5), (0.75, -0.45), (0.75, L * 0.45), (0.45, L * 0.9), n=24)
        tails.append(stroke(line, taper(24, 0.2, 0.42, 0.02, at=0.25)))
    return tails


def draw_front(pen: Pen, spec: HairSpec, ink: Inker, turn_angle: float, face: int) -> list[int]:
    """Cap and bangs, side locks, buns, braids, ahoge, highlight and strand lines; returns hair part ids."""
    rng = np.random.default_rng(spec.seed + 1)
    front, _ = _materials(spec, ink)
    ids = []
    if spec.side_locks:
        for side in (1, -1):
            line = bezier((0.43, -0.1), (0.5, 0.25), (0.45, 0.25 + spec.side_locks * 0.6), (0.36, 0.2 + spec.side_locks), n=16)
            ids.append(pen.fill(front, turn(stroke(line * (side, 1), taper(16, 0.12, 0.14, 0.015, at=0.3)), turn_angle, 0.02)))
    arc = _cap_arc(spec, spec.bangs == "spiky")
    cap = np.vstack([arc, _bangs_edge(spec, rng, turn_angle, arc[-1], arc[0])])
    cap_id = pen.fill(front, cap)
    ids.append(cap_id)
    if spec.back == "buns":
        for side in (1, -1):
            ids.append(pen.fill(front, ellipse(side * 0.36, -0.52, 0.17, 0.16, 20)))
    if spec.back == "braids":
        ids += [_braid(pen, front, side, spec) for side in (1, -1)]
    if spec.ahoge:
        line = bezier((0.02, -0.55 - spec.volume), (0.05, -0.78 - spec.volume), (0.22, -0.82 - spec.volume), (0.2, -0.68 - spec.volume), n=12)
        ids.append(pen.stroke(front, line, taper(12, 0.06, 0.05, 0.006, at=0.2)))
    line_mat = ink.ink("hair", ink.line_color(spec.color))
    if spec.highlight:
        _highlight(pen, spec, ink, ids, rng)
    for x in np.linspace(-0.35, 0.35, int(rng.integers(2, 5))):  # strand lines from the crown toward the bangs
        end = turn(np.array([[x + rng.uniform(-0.05, 0.05), -0.12 + 0.15 * abs(x)]]), turn_angle, 0.07)[0]
        line = bezier((x * 0.3, -0.5), (x * 0.8, -0.45), end, n=10)
        pen.stroke(line_mat, line, taper(10, 0.004, 0.012, 0.002, at=0.6), clip=[cap_id], min_px=0.7)
    return ids


def _highlight(pen: Pen, spec: HairSpec, ink: Inker, hair_ids: list[int], rng: np.random.Generator) -> None:
    """The 'angel ring': a band of light across the crown with teeth hanging down."""
    r = 0.5 + spec.volume
    t = np.linspace(np.pi + 0.5, 2 * np.pi - 0.5, 20)
    top = np.stack([0.85 * r * np.cos(t), -0.12 + 0.62 * r * np.sin(t)], axis=1)
    teeth = []
    for a, b in zip(t[::-1][:-1:2], t[::-1][1::2]):
        mid = (a + b) / 2
        teeth.append([0.84 * r * np.cos(a), -0.12 + 0.52 * r * np.sin(a)])
        teeth.append([0.84 * r * np.cos(mid), -0.12 + 0.52 * r * np.sin(mid) + rng.uniform(0.03, 0.1)])
    band = np.vstack([top, np.array(teeth)])
    pen.fill(ink.flat("hair", light_of(spec.color, 0.3)), band, clip=hair_ids)


def _braid(pen: Pen, material: Material, side: int, spec: HairSpec) -> int:
    length = min(spec.tail_length, 2.4)
    lobes = []
    n = max(3, int(length / 0.2))
    for i in range(n):
        y = 0.35 + i * (length / n)
        w = 0.11 * (1 - 0.4 * i / n)
        lobes.append(ellipse(side * (0.44 + 0.03 * np.sin(i)), y, w, 0.13, 14, angle=0.5 * (-1) ** i))
    return pen.fill(material, *lobes)
