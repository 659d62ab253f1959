"""Body proportions and poses: where a character's joints are, in head units.

The head is 1 unit tall with its centre at the origin (chin at y = 0.5). A normal anime figure
is about 7 heads tall, a chibi about 2.5; lengths below the chin scale with the head count and
widths less so, which gives chibi figures their stubby limbs. Limb angles are in radians from
straight down, positive swinging the limb away from the body; the left side mirrors the right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animeparse.synth.geometry import polar

ARM_POSES = ("down", "hip", "raised", "wave", "chest", "chin", "behind")
LEG_POSES = ("stand", "apart", "knock", "bent")

ARM_LAYER = {"behind": "under", "chin": "over"}
"""Where an arm is drawn in front views: ``under`` the torso, ``over`` the head and hair, else over the clothes."""


@dataclass(frozen=True)
class Proportions:
    heads: float  # total height in head heights
    shoulder: float  # half widths ...
    waist: float
    hip: float
    bust: float  # how far the chest curve bulges (0 for flat figures)
    neck: float
    arm: float  # upper-arm thickness; forearms and wrists taper from it
    leg: float  # thigh thickness

    @property
    def length(self) -> float:
        """Length scale of everything below the chin: 1 for a 7-head figure."""
        return (self.heads - 1.0) / 6.0


def sample_proportions(rng: np.random.Generator, chibi: bool, masculine: bool) -> Proportions:
    heads = rng.uniform(2.2, 2.9) if chibi else rng.uniform(5.6, 7.2)
    r = (heads - 1.0) / 6.0
    w = 0.5 + 0.5 * r  # widths shrink less than lengths
    if masculine:
        return Proportions(heads, rng.uniform(0.72, 0.82) * w, rng.uniform(0.42, 0.48) * w, rng.uniform(0.5, 0.56) * w,
                           0.0, 0.16 * w, rng.uniform(0.2, 0.23) * w, rng.uniform(0.3, 0.34) * w)
    return Proportions(heads, rng.uniform(0.6, 0.7) * w, rng.uniform(0.34, 0.4) * w, rng.uniform(0.52, 0.6) * w,
                       0.0 if chibi else rng.uniform(0.0, 0.1), 0.13 * w, rng.uniform(0.17, 0.2) * w, rng.uniform(0.3, 0.34) * w)


@dataclass(frozen=True)
class Pose:
    arms: tuple[str, str]  # arm pose names, the image's right side first
    upper: tuple[float, float]  # upper-arm angles
    fore: tuple[float, float]  # forearm angles
    legs: tuple[str, str]
    thigh: tuple[float, float]
    shin: tuple[float, float]


def _arm_angles(rng: np.random.Generator, kind: str) -> tuple[float, float]:
    u = rng.uniform
    if kind == "down":
        a = u(0.06, 0.3)
        return a, a + u(-0.15, 0.2)
    if kind == "hip":
        a = u(0.45, 0.75)
        return a, a - u(1.6, 1.9)
    if kind == "raised":
        a = u(2.3, 2.9)
        return a, a + u(-0.3, 0.3)
    if kind == "wave":
        return u(0.9, 1.4), u(2.6, 3.1)
    if kind == "chest":
        return u(0.08, 0.3), u(-1.9, -1.4)
    if kind == "chin":
        return u(0.05, 0.2), u(-2.95, -2.75)
    return u(0.0, 0.12), u(-0.55, -0.25)  # behind the back


def _leg_angles(rng: np.random.Generator, kind: str) -> tuple[float, float]:
    u = rng.uniform
    if kind == "stand":
        a = u(-0.02, 0.1)
        return a, a + u(-0.1, 0.04)
    if kind == "apart":
        a = u(0.12, 0.28)
        return a, a - u(0.0, 0.12)
    if kind == "knock":
        return u(-0.12, -0.03), u(0.05, 0.22)
    a = u(0.1, 0.3)
    return a, a - u(0.35, 0.7)  # one knee bent


def sample_pose(rng: np.random.Generator, holds_prop: bool) -> Pose:
    arm_p = np.array([0.3, 0.16, 0.08, 0.08, 0.14, 0.08, 0.16])
    if rng.random() < 0.35:  # symmetric poses (both arms behind, both hands on hips) are common
        kind = ARM_POSES[rng.choice(len(ARM_POSES), p=arm_p / arm_p.sum())]
        arms = (kind, kind if kind not in ("raised", "wave", "chin") else "down")
    else:
        arms = tuple(ARM_POSES[i] for i in rng.choice(len(ARM_POSES), 2, p=arm_p / arm_p.sum()))
    if holds_prop and arms[0] in ("behind", "chin"):
        arms = ("down" if rng.random() < 0.5 else "chest", arms[1])
    upper, fore = zip(*(_arm_angles(rng, k) for k in arms))
    legs = tuple(LEG_POSES[i] for i in rng.choice(len(LEG_POSES), 2, p=[0.45, 0.25, 0.15, 0.15]))
    if legs[0] == "bent" and legs[1] == "bent":
        legs = ("bent", "stand")
    thigh, shin = zip(*(_leg_angles(rng, k) for k in legs))
    return Pose(arms, upper, fore, legs, thigh, shin)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Limb:
    """Joints of one arm or leg (root, middle, end) and its thickness at each."""

    root: np.ndarray
    mid: np.ndarray
    end: np.ndarray
    widths: tuple[float, float, float]
    angle: float  # direction of the lower segment (for hands and feet)
    side: int  # +1 right of the figure's centre line in the image, -1 left
    pose: str


@dataclass(frozen=True)
class Skeleton:
    p: Proportions
    neck_y: float  # base of the neck
    shoulder_y: float
    chest_y: float
    waist_y: float
    hip_y: float
    crotch_y: float
    knee_y: float  # for garment lengths (the knee of a straight leg)
    sole_y: float
    arms: tuple[Limb, Limb]
    legs: tuple[Limb, Limb]


def build_skeleton(p: Proportions, pose: Pose) -> Skeleton:
    r = p.length
    neck_y, shoulder_y = 0.5 + 0.24 * r, 0.5 + 0.32 * r
    chest_y, waist_y, hip_y, crotch_y = 0.5 + 0.9 * r, 0.5 + 1.62 * r, 0.5 + 2.15 * r, 0.5 + 2.6 * r
    upper_len, fore_len = 1.12 * r, 1.0 * r
    thigh_len, shin_len = 1.62 * r, 1.55 * r
    arms, legs = [], []
    for i, side in enumerate((1, -1)):  # index 0 is drawn on the image's right
        sh = np.array([side * (p.shoulder - p.arm * 0.45), shoulder_y + 0.04 * r])
        elbow = sh + _swing(upper_len, pose.upper[i], side)
        wrist = elbow + _swing(fore_len, pose.fore[i], side)
        arms.append(Limb(sh, elbow, wrist, (p.arm, p.arm * 0.8, p.arm * 0.6), pose.fore[i], side, pose.arms[i]))
        hip = np.array([side * (p.hip - p.leg * 0.55), crotch_y - 0.22 * r])
        knee = hip + _swing(thigh_len, pose.thigh[i], side)
        ankle = knee + _swing(shin_len, pose.shin[i], side)
        legs.append(Limb(hip, knee, ankle, (p.leg, p.leg * 0.62, p.leg * 0.38), pose.shin[i], side, pose.legs[i]))
    sole_y = max(legs[0].end[1], legs[1].end[1]) + 0.14 * max(r, 0.4)
    return Skeleton(p, neck_y, shoulder_y, chest_y, waist_y, hip_y, crotch_y, crotch_y - 0.22 * r + thigh_len,
                    sole_y, tuple(arms), tuple(legs))  # type: ignore[arg-type]


def _swing(length: float, angle: float, side: int) -> np.ndarray:
    d = polar((0.0, 0.0), length, angle)
    return d * np.array([side, 1.0])
