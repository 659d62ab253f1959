"""One character: what it looks like (:class:`CharacterSpec`, sampled from a seed) and the order
in which its parts are drawn, back to front, so that hidden parts end up unlabeled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from animeparse.synth import accessories as acc
from animeparse.synth import clothing, face, hair
from animeparse.synth.body import draw_arm, draw_fingers, draw_legs, draw_torso
from animeparse.synth.canvas import RGB, Canvas, Pen
from animeparse.synth.colors import accent_color, cloth_color, eye_color, hair_color, mix, skin_tone
from animeparse.synth.geometry import Affine, Points
from animeparse.synth.materials import Inker
from animeparse.synth.props import DRAWN_OVER_HAND, PROPS, draw_prop
from animeparse.synth.skeleton import ARM_LAYER, Pose, Proportions, Skeleton, build_skeleton, sample_pose, sample_proportions

VIEWS = ("front", "three_quarter", "back")


@dataclass(frozen=True)
class CharacterSpec:
    masculine: bool
    chibi: bool
    view: str
    tilt: float  # head tilt, radians
    proportions: Proportions
    pose: Pose
    skin: RGB
    face: face.FaceSpec
    hair: hair.HairSpec
    outfit: clothing.Outfit
    extras: acc.Extras
    prop: str
    prop_color: RGB
    prop_arm: int  # 0 or 1

    @property
    def skeleton(self) -> Skeleton:
        return build_skeleton(self.proportions, self.pose)

    @property
    def hand_scale(self) -> float:
        return 0.75 if self.chibi else 1.0

    @property
    def foot_scale(self) -> float:
        return 0.6 if self.chibi else 1.0

    def top_y(self) -> float:
        """Highest point of the figure (hair, ears, hats) in head units, for framing."""
        extra = {"witch_hat": 1.05, "bunny_ears": 0.9, "crown": 0.15}.get(self.extras.headwear, 0.0)
        if self.extras.head_animal == "bunny_ears":
            extra = max(extra, 0.85)
        return -0.6 - self.hair.volume - extra * 0.5


def sample_character(rng: np.random.Generator, chibi: bool = False, view: str | None = None,
                     back_view_ok: bool = True) -> CharacterSpec:
    masculine = bool(rng.random() < 0.25)
    back = rng.random() < 0.08 and back_view_ok
    front = rng.random() < 0.54
    if view is None:
        view = "back" if back else ("front" if front else "three_quarter")
    turn = 0.0 if view != "three_quarter" else float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.55))
    skin = skin_tone(rng)
    hc = hair_color(rng)
    prop = PROPS[rng.choice(len(PROPS), p=[0.6, 0.1, 0.07, 0.08, 0.05, 0.05, 0.05])]
    pose = sample_pose(rng, holds_prop=prop != "none")
    outfit = clothing.sample_outfit(rng, masculine)
    return CharacterSpec(
        masculine=masculine, chibi=chibi, view=view, tilt=float(rng.normal(0, 0.08)),
        proportions=sample_proportions(rng, chibi, masculine), pose=pose, skin=skin,
        face=face.sample_face(rng, skin, eye_color(rng, hc), mix(hc, (20, 10, 20), 0.45), turn, chibi, masculine),
        hair=hair.sample_hair(rng, hc, masculine, chibi), outfit=outfit,
        extras=acc.sample_extras(rng, hc, outfit.top),
        prop=prop, prop_color=accent_color(rng) if rng.random() < 0.5 else cloth_color(rng),
        prop_arm=0 if pose.arms[0] not in ("behind", "chin") else 1,
    )


def draw_character(canvas: Canvas, spec: CharacterSpec, transform: Affine, ink: Inker, line_px: int, shade_px: float) -> None:
    """Draw a character placed by ``transform`` (head units to pixels), back to front."""
    canvas.begin_character(line_px, shade_px)
    head = Pen(canvas, transform @ Affine.rotate_about(0.0, 0.5, spec.tilt))
    pen = Pen(canvas, transform, _body_turn(spec) if spec.view == "three_quarter" else None)
    sk = spec.skeleton
    back_view = spec.view == "back"
    if not back_view:
        acc.draw_wings(pen, spec.extras, sk, ink)
        acc.draw_tail(pen, spec.extras, sk, ink)
        hair.draw_back(head, spec.hair, ink, back_view=False)
    if spec.prop == "umbrella":
        _prop(pen, spec, ink)
    for i in (0, 1):
        if _arm_layer(spec, i) == "under":
            _arm(pen, spec, sk, ink, i)
    clothing.draw_hood(pen, sk, spec.outfit, ink)
    draw_torso(pen, ink.solid("skin", spec.skin), sk)
    _lower_body(pen, spec, sk, ink)
    _upper_clothes(pen, spec, sk, ink, back_view)
    for i in (0, 1):
        if _arm_layer(spec, i) == "side":
            _arm(pen, spec, sk, ink, i)
    _head(head, spec, ink, back_view)
    for i in (0, 1):
        if _arm_layer(spec, i) == "over":
            _arm(pen, spec, sk, ink, i)
    if back_view:
        acc.draw_wings(pen, spec.extras, sk, ink)
        acc.draw_tail(pen, spec.extras, sk, ink)


def _body_turn(spec: CharacterSpec) -> Callable[[Points], Points]:
    """A three-quarter body: the centre line (buttons, ties, necklines) moves toward the side the
    character faces, the silhouette stays; limbs outside the torso are left alone."""
    half = spec.proportions.shoulder + 0.05
    shift = 0.45 * half * np.sin(spec.face.turn)

    def warp(points: Points) -> Points:
        x = points[:, 0]
        inside = np.clip(1 - np.abs(x) / half, 0, None)
        return np.stack([x + shift * inside, points[:, 1]], axis=1)

    return warp


def _arm_layer(spec: CharacterSpec, i: int) -> str:
    """under (before the torso), side (over the clothes) or over (over the head). Seen from the
    back, arms in front of the chest are under the body and arms behind the back are over it."""
    pose = spec.pose.arms[i]
    if spec.view == "back":
        return "under" if pose in ("chest", "chin") else "side"
    return ARM_LAYER.get(pose, "side")


def _prop(pen: Pen, spec: CharacterSpec, ink: Inker) -> None:
    arm = spec.skeleton.arms[spec.prop_arm]
    draw_prop(pen, spec.prop, spec.prop_color, arm, ink, spec.hand_scale, spec.proportions.length)


def _arm(pen: Pen, spec: CharacterSpec, sk: Skeleton, ink: Inker, i: int) -> None:
    holds = spec.prop != "none" and spec.prop != "umbrella" and i == spec.prop_arm and spec.view != "back"
    if holds and spec.prop not in DRAWN_OVER_HAND:
        _prop(pen, spec, ink)
    skin = ink.solid("arms", spec.skin)
    hidden = spec.pose.arms[i] == "behind"
    draw_arm(pen, skin, sk.arms[i], spec.hand_scale, hidden_hand=hidden)
    clothing.draw_sleeve(pen, sk.arms[i], spec.outfit, ink)
    if not hidden:
        draw_fingers(pen, skin, sk.arms[i], spec.hand_scale, curled=holds)
        acc.draw_gloves(pen, spec.extras, sk, ink, spec.hand_scale, i)
        acc.draw_bracelet(pen, spec.extras, sk, ink, i)
    if holds and spec.prop in DRAWN_OVER_HAND:
        _prop(pen, spec, ink)


def _lower_body(pen: Pen, spec: CharacterSpec, sk: Skeleton, ink: Inker) -> None:
    draw_legs(pen, ink.solid("legs", spec.skin), sk, spec.foot_scale)
    clothing.draw_legwear(pen, sk, spec.outfit, ink, spec.foot_scale)
    if not spec.outfit.tucked or spec.outfit.top == "dress":
        clothing.draw_bottom(pen, sk, spec.outfit, ink)


def _upper_clothes(pen: Pen, spec: CharacterSpec, sk: Skeleton, ink: Inker, back_view: bool) -> None:
    outfit = spec.outfit
    clothing.draw_top(pen, sk, outfit, ink, back_view)
    if outfit.tucked and outfit.top != "dress":
        clothing.draw_bottom(pen, sk, outfit, ink)
    if outfit.top == "dress":
        clothing.draw_bodice_ribbon(pen, sk, outfit, ink)
    acc.draw_neckwear(pen, spec.extras, sk, ink)
    if not back_view:
        for kind in ("tie", "neck_ribbon"):
            if kind in spec.extras.accessories:
                clothing.tie_or_ribbon(pen, sk, outfit, ink, kind)
        acc.draw_bag(pen, spec.extras, sk, ink)


def _head(pen: Pen, spec: CharacterSpec, ink: Inker, back_view: bool) -> None:
    f = spec.face
    face.draw_ears(pen, f, ink)
    if not back_view:
        acc.draw_earrings(pen, spec.extras, ink, f.turn)  # under the face: only what hangs below the ear shows
    face_id = face.draw_face(pen, f, ink)
    head_top = -0.55 - spec.hair.volume
    if back_view:
        hair.draw_back(pen, spec.hair, ink, back_view=True)
    else:
        face.draw_features(pen, f, ink, face_id)
        acc.draw_glasses(pen, spec.extras, ink, f.eye_gap, f.eye_y, f.eye_size, f.turn)
        hair.draw_front(pen, spec.hair, ink, f.turn, face_id)
    acc.draw_head_animal(pen, spec.extras, ink, head_top)
    acc.draw_headwear(pen, spec.extras, ink, head_top, f.turn)
