"""Curves and shapes as numpy point arrays, and the affine map from a character's own units to pixels.

Every shape is an (N, 2) float array of (x, y) points, y pointing down. Characters are built in
head units (head height 1, head centre at the origin) and mapped to pixels by :class:`Affine`,
so stroke widths, curves and details scale with the character.
"""

from __future__ import annotations

from math import comb

import numpy as np

Points = np.ndarray


def bezier(*controls, n: int = 16) -> Points:
    """Points along a Bezier curve of any degree (2 controls = line, 3 = quadratic, 4 = cubic)."""
    c = np.asarray(controls, dtype=np.float64)
    degree = len(c) - 1
    t = np.linspace(0.0, 1.0, n)[:, None]
    weights = [comb(degree, k) * t**k * (1 - t) ** (degree - k) for k in range(degree + 1)]  # Bernstein basis
    return sum(w * p for w, p in zip(weights, c))


def path(*segments: Points) -> Points:
    """Join curve pieces end to start, dropping the repeated joint points."""
    out = [segments[0]]
    for seg in segments[1:]:
        out.append(seg[1:] if np.allclose(seg[0], out[-1][-1]) else seg)
    return np.concatenate(out)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 28, angle: float = 0.0,
            start: float = 0.0, stop: float = 2 * np.pi) -> Points:
    """Points on an ellipse (or an arc of it from ``start`` to ``stop`` radians), rotated by ``angle``."""
    t = np.linspace(start, stop, n, endpoint=stop - start < 2 * np.pi - 1e-9)
    x, y = rx * np.cos(t), ry * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([cx + x * ca - y * sa, cy + x * sa + y * ca], axis=1)


def star(center, radius: float, points: int, inner: float = 0.45) -> Points:
    """A star with ``points`` tips (4 gives the anime sparkle), tips pointing up."""
    t = np.linspace(-np.pi / 2, 3 * np.pi / 2, 2 * points, endpoint=False)
    rad = np.where(np.arange(2 * points) % 2 == 0, radius, radius * inner)
    return np.stack([center[0] + rad * np.cos(t), center[1] + rad * np.sin(t)], axis=1)


def normals(line: Points) -> Points:
    """Unit normals of a polyline (left side when walking along it)."""
    d = np.gradient(line, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return np.stack([d[:, 1], -d[:, 0]], axis=1)


def stroke(line: Points, widths) -> Points:
    """The outline polygon of a brush stroke along ``line``; ``widths`` is one width or one per point
    (a taper like ``np.linspace(w, 0, n)`` gives the pointed ends of hair locks and lashes)."""
    half = np.broadcast_to(np.asarray(widths, dtype=np.float64), (len(line),))[:, None] / 2
    nrm = normals(line)
    return np.concatenate([line + nrm * half, (line - nrm * half)[::-1]])


def taper(n: int, start: float, peak: float, end: float, at: float = 0.3) -> np.ndarray:
    """Widths rising from ``start`` to ``peak`` at fraction ``at`` of the stroke, then to ``end``."""
    t = np.linspace(0, 1, n)
    return np.where(t < at, start + (peak - start) * np.sin(t / at * np.pi / 2),
                    end + (peak - end) * np.cos((t - at) / (1 - at) * np.pi / 2))


def capsule(a, b, ra: float, rb: float, n: int = 10) -> Points:
    """A limb segment: circles of radius ``ra`` at ``a`` and ``rb`` at ``b`` joined by tangents."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    ang = np.arctan2(d[1], d[0])
    cap_b = ellipse(b[0], b[1], rb, rb, n, start=ang - np.pi / 2, stop=ang + np.pi / 2)
    cap_a = ellipse(a[0], a[1], ra, ra, n, start=ang + np.pi / 2, stop=ang + 3 * np.pi / 2)
    return np.concatenate([cap_b, cap_a])


def polar(origin, length: float, angle: float) -> np.ndarray:
    """The point ``length`` away from ``origin`` at ``angle`` radians from straight down (x grows
    with positive angles, so a positive angle swings a right-side limb outwards)."""
    return np.asarray(origin, float) + length * np.array([np.sin(angle), np.cos(angle)])


def mirror(points: Points) -> Points:
    """Reflect across the character's vertical centre line (x -> -x)."""
    return points * np.array([-1.0, 1.0])


class Affine:
    """A 2-D affine map ``p -> p @ m[:, :2].T + m[:, 2]``, composable with ``@``."""

    def __init__(self, m: np.ndarray):
        self.m = np.asarray(m, dtype=np.float64)

    @classmethod
    def place(cls, x: float, y: float, scale: float, flip: bool = False, angle: float = 0.0) -> "Affine":
        """Head units to pixels: scale, optional left-right flip, rotation, then move to (x, y)."""
        ca, sa = np.cos(angle) * scale, np.sin(angle) * scale
        fx = -1.0 if flip else 1.0
        return cls(np.array([[ca * fx, -sa, x], [sa * fx, ca, y]]))

    @classmethod
    def rotate_about(cls, cx: float, cy: float, angle: float) -> "Affine":
        ca, sa = np.cos(angle), np.sin(angle)
        return cls(np.array([[ca, -sa, cx - ca * cx + sa * cy], [sa, ca, cy - sa * cx - ca * cy]]))

    def __matmul__(self, other: "Affine") -> "Affine":
        a = np.vstack([self.m, [0, 0, 1]])
        b = np.vstack([other.m, [0, 0, 1]])
        return Affine((a @ b)[:2])

    @property
    def scale(self) -> float:
        """Pixels per unit (the map is a similarity, so one number says it)."""
        return float(np.sqrt(abs(np.linalg.det(self.m[:, :2]))))

    def __call__(self, points: Points) -> Points:
        return np.asarray(points, dtype=np.float64) @ self.m[:, :2].T + self.m[:, 2]

