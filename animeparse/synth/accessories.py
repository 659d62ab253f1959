"""Headwear (hats, hairbands, ribbons, clips), accessories (glasses, jewelry, gloves, bags) and
animal parts (ears, horns, tails, wings), each with the class the schema gives it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animeparse.synth.body import fingers, hand, limb_outline
from animeparse.synth.canvas import RGB, Pen
from animeparse.synth.colors import WHITE, accent_color, cloth_color, light_of, mix
from animeparse.synth.face import turn
from animeparse.synth.geometry import bezier, ellipse, stroke, taper
from animeparse.synth.materials import Inker
from animeparse.synth.skeleton import Skeleton

HEADWEAR = ("none", "hairband", "ribbon", "clips", "beret", "witch_hat", "cap", "sun_hat", "crown", "maid")
HEAD_ANIMAL = ("none", "cat_ears", "fox_ears", "bunny_ears", "horns")
TAILS = ("none", "cat_tail", "fox_tail")
WINGS = ("none", "angel", "bat", "fairy")
ACCESSORIES = ("glasses", "earrings", "choker", "necklace", "gloves", "bag", "tie", "neck_ribbon", "bracelet")


@dataclass(frozen=True)
class Extras:
    headwear: str
    headwear_color: RGB
    head_animal: str
    tail: str
    wings: str
    animal_color: RGB
    accessories: tuple[str, ...]
    accessory_color: RGB


def sample_extras(rng: np.random.Generator, hair: RGB, top: str) -> Extras:
    """Headwear, animal parts and accessories; frequencies keep each class in a good share of images."""
    headwear = HEADWEAR[rng.choice(len(HEADWEAR), p=[0.3, 0.14, 0.14, 0.1, 0.06, 0.06, 0.05, 0.05, 0.04, 0.06])]
    head_animal = HEAD_ANIMAL[rng.choice(5, p=[0.7, 0.12, 0.07, 0.05, 0.06])]
    tail = TAILS[rng.choice(3, p=[0.8, 0.12, 0.08])] if head_animal in ("cat_ears", "fox_ears") else "none"
    wings = WINGS[rng.choice(4, p=[0.88, 0.05, 0.04, 0.03])]
    animal_color = hair if rng.random() < 0.7 else cloth_color(rng)
    n = rng.choice(4, p=[0.25, 0.4, 0.25, 0.1])
    picks = rng.choice(len(ACCESSORIES), n, replace=False)
    accessories = tuple(ACCESSORIES[i] for i in sorted(picks))
    if top not in ("shirt", "jacket", "dress", "sleeveless"):  # sailor uniforms bring their own neckerchief
        accessories = tuple(a for a in accessories if a not in ("tie", "neck_ribbon"))
    return Extras(headwear, accent_color(rng) if rng.random() < 0.6 else cloth_color(rng), head_animal, tail, wings,
                  animal_color, accessories, accent_color(rng) if rng.random() < 0.5 else cloth_color(rng))


# ---------------------------------------------------------------- behind the body


def draw_wings(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker) -> None:
    if extras.wings == "none":
        return
    r = max(sk.p.length, 0.45)
    y = sk.shoulder_y + 0.3 * r
    shapes = []
    color = {"angel": (250, 250, 252), "bat": (60, 40, 70), "fairy": (200, 235, 250)}[extras.wings]
    for side in (1, -1):
        if extras.wings == "angel":
            for i in range(4):
                shapes.append(ellipse(side * (0.6 + 0.35 * i) * r, y - 0.3 * r + 0.25 * i * r, 0.55 * r, 0.16 * r, 16,
                                      angle=side * (-0.6 + 0.25 * i)))
        elif extras.wings == "bat":
            tip = np.array([side * 2.0 * r, y - 0.8 * r])
            scallops = [np.array([side * 0.2, y]), tip]
            for k in range(3):
                scallops.append(np.array([side * (1.8 - 0.5 * k) * r, y + (0.2 + 0.25 * k) * r]))
                scallops.append(np.array([side * (1.55 - 0.5 * k) * r, y + (0.45 + 0.2 * k) * r]))
            shapes.append(np.array(scallops))
        else:
            shapes.append(ellipse(side * 0.85 * r, y - 0.35 * r, 0.7 * r, 0.35 * r, 20, angle=side * -0.5))
            shapes.append(ellipse(side * 0.7 * r, y + 0.35 * r, 0.45 * r, 0.22 * r, 16, angle=side * 0.5))
    pen.fill(ink.solid("animal_parts", color), *shapes)


def draw_tail(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker) -> None:
    if extras.tail == "none":
        return
    r = max(sk.p.length, 0.45)
    base = np.array([0.15, sk.hip_y])
    if extras.tail == "cat_tail":
        line = bezier(base, base + (1.0 * r, 0.3 * r), base + (1.1 * r, -0.9 * r), base + (1.5 * r, -1.0 * r), n=20)
        pen.stroke(ink.solid("animal_parts", extras.animal_color), line, taper(20, 0.1 * r, 0.11 * r, 0.05 * r, at=0.5))
    else:
        line = bezier(base, base + (0.9 * r, 0.2 * r), base + (1.3 * r, -0.6 * r), n=20)
        pid = pen.stroke(ink.solid("animal_parts", extras.animal_color), line, taper(20, 0.1 * r, 0.55 * r, 0.02, at=0.6))
        pen.fill(ink.flat("animal_parts", WHITE), ellipse(*line[-3], 0.14 * r, 0.1 * r, 12), clip=[pid])


# ---------------------------------------------------------------- head


def draw_head_animal(pen: Pen, extras: Extras, ink: Inker, head_top: float) -> None:
    kind = extras.head_animal
    if kind == "none":
        return
    mat = ink.solid("animal_parts", extras.animal_color)
    inner = ink.flat("animal_parts", mix(extras.animal_color, (255, 170, 190), 0.5))
    for side in (1, -1):
        if kind in ("cat_ears", "fox_ears"):
            tall = 0.32 if kind == "cat_ears" else 0.45
            ear = np.array([[0.12, head_top + 0.1], [0.32, head_top - tall], [0.45, head_top + 0.12]]) * (side, 1)
            pid = pen.fill(mat, ear)
            pen.fill(inner, ear + (ear.mean(axis=0) - ear) * 0.35, clip=[pid])
        elif kind == "bunny_ears":
            pid = pen.fill(mat, ellipse(side * 0.2, head_top - 0.45, 0.1, 0.45, 20, angle=side * 0.15))
            pen.fill(inner, ellipse(side * 0.2, head_top - 0.42, 0.05, 0.36, 16, angle=side * 0.15), clip=[pid])
        else:
            line = bezier((side * 0.2, head_top + 0.12), (side * 0.3, head_top - 0.15), (side * 0.5, head_top - 0.3), n=10)
            pen.stroke(ink.solid("animal_parts", (235, 225, 200)), line, taper(10, 0.11, 0.09, 0.01, at=0.1))


def draw_headwear(pen: Pen, extras: Extras, ink: Inker, head_top: float, turn_angle: float) -> None:
    kind, color = extras.headwear, extras.headwear_color
    if kind == "none":
        return
    mat = ink.solid("headwear", color, casts=True)
    top = head_top
    if kind == "hairband":
        t = np.linspace(np.pi + 0.35, 2 * np.pi - 0.35, 24)
        arc = np.stack([0.56 * np.cos(t), top + 0.48 + 0.5 * np.sin(t)], axis=1)
        pen.stroke(mat, arc, 0.07)
    elif kind == "ribbon":
        side = 1 if turn_angle <= 0 else -1
        _bow_head(pen, ink, color, np.array([side * 0.38, top + 0.12]), 0.42)
    elif kind == "clips":
        for k in range(2):
            at = turn(np.array([[0.28 + 0.07 * k, top + 0.38 + 0.05 * k]]), turn_angle, 0.08)[0]
            pen.stroke(mat, np.array([at - (0.05, -0.08), at + (0.05, -0.08)]), 0.035)
    elif kind == "beret":
        pen.fill(mat, ellipse(0.08, top + 0.05, 0.5, 0.17, 24, angle=0.12), ellipse(0.08, top + 0.1, 0.4, 0.13, 20))
    elif kind == "witch_hat":
        brim = ellipse(0.0, top + 0.15, 0.85, 0.14, 30)
        cone = np.vstack([bezier((-0.38, top + 0.12), (-0.2, top - 0.4), (0.1, top - 0.9), (0.5, top - 1.0), n=12),
                          bezier((0.5, top - 1.0), (0.2, top - 0.6), (0.3, top - 0.2), (0.38, top + 0.12), n=12)])
        pen.fill(mat, brim, cone)
        band = np.array([[-0.36, top + 0.0], [0.36, top + 0.0], [0.38, top + 0.1], [-0.38, top + 0.1]])
        pen.fill(ink.solid("headwear", mix(color, WHITE, 0.6)), band)
    elif kind == "cap":
        dome = ellipse(0.0, top + 0.2, 0.52, 0.3, 28, start=np.pi, stop=2 * np.pi)
        visor = ellipse(0.0 + 0.25 * np.sign(turn_angle), top + 0.22, 0.45, 0.08, 20)
        pen.fill(mat, dome, visor)
    elif kind == "sun_hat":
        pen.fill(mat, ellipse(0.0, top + 0.18, 0.95, 0.18, 30), ellipse(0.0, top + 0.1, 0.45, 0.25, 24, start=np.pi, stop=2 * np.pi))
        pen.fill(ink.solid("headwear", extras.accessory_color), np.array([[-0.45, top], [0.45, top], [0.46, top + 0.1], [-0.46, top + 0.1]]))
    elif kind == "crown":
        pts = [(-0.25, top + 0.12)]
        for i, x in enumerate(np.linspace(-0.25, 0.25, 7)):
            pts.append((x, top - 0.12 if i % 2 == 0 else top + 0.0))
        pts.append((0.25, top + 0.12))
        pen.fill(ink.solid("headwear", (240, 200, 80)), np.array(pts))
    elif kind == "maid":
        t = np.linspace(np.pi + 0.5, 2 * np.pi - 0.5, 9)
        scallops = [ellipse(0.5 * np.cos(a), top + 0.4 + 0.42 * np.sin(a), 0.08, 0.07, 10) for a in t]
        pen.fill(ink.solid("headwear", WHITE), *scallops)


def _bow_head(pen: Pen, ink: Inker, color: RGB, at: np.ndarray, s: float) -> None:
    shapes = [np.array([[0.0, 0.0], [side * s * 0.5, -s * 0.35], [side * s * 0.55, s * 0.25]]) + at for side in (1, -1)]
    shapes.append(ellipse(at[0], at[1], s * 0.1, s * 0.1, 10))
    pen.fill(ink.solid("headwear", color), *shapes)


# ---------------------------------------------------------------- accessories


def draw_glasses(pen: Pen, extras: Extras, ink: Inker, eye_gap: float, eye_y: float, eye_size: float, turn_angle: float) -> None:
    if "glasses" not in extras.accessories:
        return
    mat = ink.ink("accessories", mix(extras.accessory_color, (20, 20, 30), 0.5))
    shapes = []
    for side in (1, -1):
        rim = ellipse(side * eye_gap, eye_y + 0.01, eye_size * 0.68, eye_size * 0.5, 28)
        rim = turn(np.vstack([rim, rim[:1]]), turn_angle, 0.06)
        shapes.append(stroke(rim, 0.018))
    bridge = turn(np.array([[eye_gap - eye_size * 0.68, eye_y - 0.02], [-(eye_gap - eye_size * 0.68), eye_y - 0.02]]), turn_angle, 0.08)
    shapes.append(stroke(bridge, 0.018))
    pen.fill(mat, *shapes)


def draw_earrings(pen: Pen, extras: Extras, ink: Inker, turn_angle: float) -> None:
    if "earrings" not in extras.accessories:
        return
    mat = ink.solid("accessories", (240, 200, 90) if extras.accessory_color[0] > 128 else (200, 210, 230))
    for side in (1, -1):
        at = turn(np.array([[side * 0.45, 0.24]]), turn_angle, -0.12)[0]
        pen.fill(mat, ellipse(at[0], at[1] + 0.06, 0.03, 0.05, 10))


def draw_neckwear(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker) -> None:
    """Choker or necklace around the neck."""
    w = sk.p.neck
    if "choker" in extras.accessories:
        band = np.array([[-w * 1.05, sk.neck_y - 0.12], [w * 1.05, sk.neck_y - 0.12], [w * 1.08, sk.neck_y - 0.06], [-w * 1.08, sk.neck_y - 0.06]])
        pen.fill(ink.solid("accessories", mix(extras.accessory_color, (0, 0, 0), 0.4)), band)
    if "necklace" in extras.accessories:
        chain = bezier((-w * 1.3, sk.shoulder_y - 0.04), (0.0, sk.shoulder_y + 0.3 * sk.p.length), (w * 1.3, sk.shoulder_y - 0.04), n=16)
        mat = ink.solid("accessories", (235, 200, 90))
        pen.fill(mat, stroke(chain, 0.018), ellipse(chain[8][0], chain[8][1] + 0.03, 0.04, 0.05, 10))


def draw_gloves(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker, hand_scale: float, arm_index: int) -> None:
    if "gloves" not in extras.accessories:
        return
    arm = sk.arms[arm_index]
    color = WHITE if extras.accessory_color[1] > 150 else extras.accessory_color
    pen.fill(ink.solid("accessories", color), *hand(arm, hand_scale * 1.08), *fingers(arm, hand_scale * 1.08, curled=False),
             *limb_outline(arm, 0.015, 1.75, 2.0))


def draw_bracelet(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker, arm_index: int) -> None:
    if "bracelet" not in extras.accessories or "gloves" in extras.accessories:
        return
    arm = sk.arms[arm_index]
    pen.fill(ink.solid("accessories", light_of(extras.accessory_color, 0.2)), *limb_outline(arm, 0.018, 1.8, 1.88))


def draw_bag(pen: Pen, extras: Extras, sk: Skeleton, ink: Inker) -> None:
    if "bag" not in extras.accessories:
        return
    p, r = sk.p, sk.p.length
    strap = np.array([[-p.shoulder * 0.55, sk.shoulder_y - 0.02], [p.hip + 0.05, sk.hip_y]])
    mat = ink.solid("accessories", extras.accessory_color)
    box = np.array([[p.hip - 0.1, sk.hip_y - 0.1 * r], [p.hip + 0.35 * r, sk.hip_y - 0.1 * r],
                    [p.hip + 0.38 * r, sk.hip_y + 0.4 * r], [p.hip - 0.12, sk.hip_y + 0.4 * r]])
    pen.fill(mat, stroke(strap, 0.05), box)
    flap = np.array([box[0], box[1], (box[1] + box[2]) / 2 - (0, 0.1 * r), (box[0] + box[3]) / 2 - (0, 0.1 * r)])
    pen.fill(ink.flat("accessories", mix(extras.accessory_color, (0, 0, 0), 0.2)), flap)
