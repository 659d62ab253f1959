"""Body shapes from a skeleton: neck and torso (skin), arms with hands (arms), legs with feet (legs).

Outlines are built in head units; clothing (:mod:`animeparse.synth.clothing`) reuses the same
outlines, grown a little, so garments follow the pose.
"""

from __future__ import annotations

import numpy as np

from animeparse.synth.canvas import Material, Pen
from animeparse.synth.geometry import Points, bezier, capsule, ellipse, mirror
from animeparse.synth.skeleton import Limb, Skeleton


def torso_outline(sk: Skeleton, grow: float = 0.0, top: float | None = None, bottom: float | None = None,
                  neck_depth: float = 0.0, neck_width: float | None = None, v_neck: bool = False) -> Points:
    """The torso from the shoulders to the crotch (or ``top``/``bottom`` heights), ``grow`` wider.

    A garment's neckline is cut with ``neck_depth`` (how far it dips below ``top``), ``neck_width``
    (half width where it meets the shoulders) and ``v_neck`` (a V instead of a round scoop).
    """
    p, r = sk.p, sk.p.length
    top = sk.shoulder_y - 0.03 if top is None else top
    bottom = sk.crotch_y if bottom is None else bottom
    sh = p.shoulder + grow
    right = np.vstack([
        bezier((p.neck + grow, top), (sh * 0.75, top), (sh, top + 0.02), (sh, sk.shoulder_y + 0.2 * r), n=8),
        bezier((sh - 0.02, sk.shoulder_y + 0.25 * r), (sh - 0.04 + p.bust, sk.chest_y), (p.waist + grow, sk.waist_y - 0.2 * r),
               (p.waist + grow, sk.waist_y), n=12),
        bezier((p.waist + grow, sk.waist_y), (p.hip + grow, sk.hip_y - 0.2 * r), (p.hip + grow, sk.hip_y),
               (p.hip + grow - 0.03, sk.crotch_y), n=10),
    ])
    right = right[(right[:, 1] >= top - 0.05) & (right[:, 1] <= bottom)]
    right = np.vstack([right, [_width_at(right, bottom), bottom]])
    outline = np.vstack([right, mirror(right)[::-1]])
    if neck_depth <= 0:
        return outline
    w = p.neck + 0.04 if neck_width is None else neck_width
    if v_neck:
        cut = np.array([[-w, top], [0.0, top + neck_depth], [w, top]])
    else:
        cut = bezier((-w, top), (-w * 0.9, top + neck_depth * 1.3), (w * 0.9, top + neck_depth * 1.3), (w, top), n=12)
    return np.vstack([outline, cut])


def _width_at(side: Points, y: float) -> float:
    """Half width of a torso side outline at height ``y`` (it is ordered top to bottom)."""
    return float(np.interp(y, side[:, 1], side[:, 0]))


def neck(sk: Skeleton) -> Points:
    w = sk.p.neck
    return np.array([[-w, 0.25], [w, 0.25], [w * 1.05, sk.neck_y], [w * 1.6, sk.shoulder_y],
                     [-w * 1.6, sk.shoulder_y], [-w * 1.05, sk.neck_y]])


def limb_outline(limb: Limb, grow: float = 0.0, start: float = 0.0, stop: float = 2.0) -> list[Points]:
    """Capsules along a limb from ``start`` to ``stop``, measured in segments (0 = root,
    1 = middle joint, 2 = end), grown by ``grow`` on each side."""
    joints = [limb.root, limb.mid, limb.end]
    widths = [w / 2 + grow for w in limb.widths]
    out = []
    for seg in (0, 1):
        a, b = max(start, seg), min(stop, seg + 1)
        if b <= a:
            continue
        pa = joints[seg] + (joints[seg + 1] - joints[seg]) * (a - seg)
        pb = joints[seg] + (joints[seg + 1] - joints[seg]) * (b - seg)
        wa = widths[seg] + (widths[seg + 1] - widths[seg]) * (a - seg)
        wb = widths[seg] + (widths[seg + 1] - widths[seg]) * (b - seg)
        out.append(capsule(pa, pb, wa, wb))
    return out


def _hand_axes(limb: Limb) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the forearm and across the hand toward the thumb (the body's centre line)."""
    u = (limb.end - limb.mid) / np.linalg.norm(limb.end - limb.mid)
    inward = np.array([-u[1], u[0]])
    return u, (-inward if inward[0] * limb.side > 0 else inward)


def hand(limb: Limb, scale: float) -> list[Points]:
    """Palm and thumb at the end of an arm (the fingers are drawn apart, see :func:`fingers`)."""
    u, inward = _hand_axes(limb)
    s = scale
    ang = float(np.arctan2(u[1], u[0]))
    palm = ellipse(0.0, 0.0, 0.11 * s, 0.085 * s, 16, angle=ang) + limb.end + u * 0.09 * s
    thumb = capsule(limb.end + u * 0.06 * s + inward * 0.05 * s, limb.end + u * 0.15 * s + inward * 0.1 * s, 0.03 * s, 0.022 * s, 6)
    return [palm, thumb]


def fingers(limb: Limb, scale: float, curled: bool) -> list[Points]:
    """Four fingers fanning from the knuckles; short stubs when the hand grips something."""
    u, inward = _hand_axes(limb)
    s = scale
    out = []
    for i, length in enumerate((0.13, 0.15, 0.14, 0.11)):
        k = 1.5 - i  # from the thumb side outwards
        base = limb.end + u * 0.16 * s + inward * k * 0.04 * s
        a = -0.12 * k * np.sign(inward[0] * u[1] - inward[1] * u[0] or 1.0)
        d = np.array([u[0] * np.cos(a) - u[1] * np.sin(a), u[0] * np.sin(a) + u[1] * np.cos(a)])
        out.append(capsule(base, base + d * length * s * (0.45 if curled else 1.0), 0.023 * s, 0.019 * s, 6))
    return out


def foot(limb: Limb, scale: float, grow: float = 0.0) -> Points:
    """A foot below the ankle, toes turned slightly outward (front view)."""
    c = limb.end + np.array([limb.side * 0.05 * scale, 0.1 * scale])
    return ellipse(c[0], c[1], 0.09 * scale + grow, 0.15 * scale + grow, 16, angle=-limb.side * 0.25)


def draw_arm(pen: Pen, material: Material, limb: Limb, hand_scale: float, hidden_hand: bool = False) -> int:
    shapes = limb_outline(limb)
    if not hidden_hand:
        shapes += hand(limb, hand_scale)
    return pen.fill(material, *shapes)


def draw_fingers(pen: Pen, material: Material, limb: Limb, hand_scale: float, curled: bool) -> None:
    """Each finger is its own part, so the outline separates it from its neighbour."""
    for finger in fingers(limb, hand_scale, curled):
        pen.fill(material, finger)


def draw_legs(pen: Pen, material: Material, sk: Skeleton, foot_scale: float) -> int:
    shapes = []
    for leg in sk.legs:
        shapes += limb_outline(leg)
        shapes.append(foot(leg, foot_scale))
    return pen.fill(material, *shapes)


def draw_torso(pen: Pen, material: Material, sk: Skeleton) -> int:
    return pen.fill(material, neck(sk), torso_outline(sk))
