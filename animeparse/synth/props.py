"""Held objects (class props): sword, staff, book, umbrella, microphone, phone.

Each is placed at a hand and follows the forearm. Long props are drawn before the arm so the hand
grips over them; a book is drawn after it, held in front.
"""

from __future__ import annotations

import numpy as np

from animeparse.synth.canvas import RGB, Pen
from animeparse.synth.colors import WHITE, light_of, mix
from animeparse.synth.geometry import Points, bezier, ellipse, stroke
from animeparse.synth.materials import Inker
from animeparse.synth.skeleton import Limb

PROPS = ("none", "sword", "staff", "book", "umbrella", "microphone", "phone")
DRAWN_OVER_HAND = ("book", "phone")
"""Props drawn in front of the hand that holds them; the others are drawn behind it."""


def _frame(arm: Limb, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grip point and two unit axes: along the forearm and across it."""
    u = (arm.end - arm.mid) / np.linalg.norm(arm.end - arm.mid)
    return arm.end + u * 0.12 * scale, u, np.array([-u[1], u[0]])


def _rect(center, along, across, length: float, width: float) -> Points:
    a, c = along * length / 2, across * width / 2
    return np.array([center - a - c, center + a - c, center + a + c, center - a + c])


def draw_prop(pen: Pen, kind: str, color: RGB, arm: Limb, ink: Inker, scale: float, r: float) -> None:
    """Draw prop ``kind`` held by ``arm``; ``scale`` is the hand size, ``r`` the body length scale."""
    if kind == "none":
        return
    grip, u, v = _frame(arm, scale)
    up = np.array([0.0, -1.0])
    mat = ink.solid("props", color, casts=True)
    L = max(r, 0.45)
    if kind == "sword":
        blade_dir = u if u[1] > -0.2 else -u
        tip = grip + blade_dir * 2.3 * L
        blade = stroke(np.array([grip + blade_dir * 0.25 * L, tip - blade_dir * 0.15 * L, tip]), [0.12 * L, 0.1 * L, 0.0])
        handle = stroke(np.array([grip - blade_dir * 0.22 * L, grip + blade_dir * 0.2 * L]), 0.07 * L)
        guard = stroke(np.array([grip + blade_dir * 0.2 * L - np.array([-blade_dir[1], blade_dir[0]]) * 0.2 * L,
                                 grip + blade_dir * 0.2 * L + np.array([-blade_dir[1], blade_dir[0]]) * 0.2 * L]), 0.07 * L)
        pen.fill(ink.solid("props", (215, 225, 235), casts=True), blade)
        pen.fill(mat, handle, guard)
    elif kind == "staff":
        rod = stroke(np.array([grip + up * 2.2 * L, grip - up * 1.6 * L]), 0.07 * L)
        pen.fill(ink.solid("props", mix(color, (110, 70, 40), 0.6), casts=True), rod)
        top = grip + up * 2.35 * L
        pen.fill(mat, ellipse(top[0], top[1], 0.2 * L, 0.2 * L, 18))
        pen.fill(ink.flat("props", light_of(color, 0.6)), ellipse(top[0] - 0.06 * L, top[1] - 0.06 * L, 0.06 * L, 0.06 * L, 10))
    elif kind == "book":
        center = arm.end + u * 0.15 * scale
        book = _rect(center, np.array([1.0, 0.12]) / np.hypot(1, 0.12), np.array([-0.12, 1.0]) / np.hypot(1, 0.12), 0.55 * L, 0.72 * L)
        pid = pen.fill(mat, book)
        pages = _rect(center + np.array([0.0, 0.33 * L]), np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.5 * L, 0.05 * L)
        pen.fill(ink.flat("props", (245, 240, 225)), pages, clip=[pid])
    elif kind == "umbrella":
        top = grip + up * 1.9 * L
        shaft = stroke(np.array([grip - up * 0.3 * L, top]), 0.045 * L)
        pen.fill(ink.solid("props", (90, 70, 60)), shaft)
        n = 6
        xs = np.linspace(-1.3 * L, 1.3 * L, n + 1)
        canopy = [bezier((xs[0], 0.25 * L), (-1.1 * L, -0.75 * L), (1.1 * L, -0.75 * L), (xs[-1], 0.25 * L), n=24)]
        canopy.append(np.array([[x, 0.25 * L - 0.12 * L * (i % 2)] for i, x in enumerate(np.linspace(1.3 * L, -1.3 * L, 2 * n + 1))]))
        pen.fill(mat, np.vstack(canopy) + top + (0, 0.2 * L))
    elif kind == "microphone":
        head = grip - u * 0.45 * L if u[1] > 0 else grip + u * 0.45 * L
        pen.fill(ink.solid("props", (50, 50, 60)), stroke(np.array([grip, head]), 0.06 * L))
        pen.fill(ink.solid("props", (190, 190, 200), casts=True), ellipse(head[0], head[1], 0.09 * L, 0.09 * L, 14))
    elif kind == "phone":
        center = arm.end + u * 0.12 * scale
        pid = pen.fill(mat, _rect(center, v, u, 0.22 * L, 0.4 * L))
        pen.fill(ink.flat("props", mix(WHITE, (120, 170, 230), 0.6)), _rect(center, v, u, 0.17 * L, 0.3 * L), clip=[pid])
