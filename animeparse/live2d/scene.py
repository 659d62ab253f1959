"""A picture from a seed: one to three posed Live2D characters in depth order over a background,
in color, line art or manga screentone, with finishing effects and the exact label map.

Like the procedural renderer (:mod:`animeparse.synth.scene`), every random choice comes from a
generator seeded by ``(seed, stream)``, so the same seed and characters always give the same
picture in any process. Pictures come back as :class:`animeparse.synth.scene.Sample`, so the
dataset builder, its workers and its difficulty grading treat both sources alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

from animeparse.augment import to_lineart
from animeparse.labels import SCHEMA_16
from animeparse.live2d.backgrounds import list_photos
from animeparse.live2d.characters import Character
from animeparse.live2d.raster import Layer, draw_meshes, mip_chain
from animeparse.synth.background import BACKGROUNDS, SIMPLE_BACKGROUNDS, render_background
from animeparse.synth.effects import EFFECTS, STRONG_LIGHT, apply_effects, screentone, soften
from animeparse.synth.scene import STRONG_EFFECT, STYLES, Sample, Stats, grade

FRAMINGS = ("portrait", "bust", "half", "full")
MAX_CHARACTERS = 3
PHOTO = "photo"
"""Background kind: a crop of a real photograph or artwork (see :mod:`animeparse.live2d.backgrounds`)."""

# Framing: how far below the face's bottom the frame reaches, in face heights (None: the whole figure).
FRAME_BOTTOM = {"portrait": 1.2, "bust": 2.6, "half": 5.0, "full": None}
HAIR_ABOVE = 0.9  # frame top above the face's top, in face heights (hair and hats)

# Parameter ranges a pose draws from (degrees for angles, 0..1 or -1..1 for the rest).
POSE_RANGES = {
    "PARAM_ANGLE_X": (-30, 30), "PARAM_ANGLE_Y": (-25, 25), "PARAM_ANGLE_Z": (-20, 20),
    "PARAM_BODY_ANGLE_X": (-10, 10), "PARAM_BODY_ANGLE_Y": (-10, 10), "PARAM_BODY_ANGLE_Z": (-10, 10),
    "PARAM_BODY_X": (-10, 10), "PARAM_BODY_Z": (-10, 10),
    "PARAM_EYE_BALL_X": (-1, 1), "PARAM_EYE_BALL_Y": (-1, 1), "PARAM_MOUTH_FORM": (-1, 1),
    "PARAM_BROW_L_Y": (-1, 1), "PARAM_BROW_R_Y": (-1, 1), "PARAM_BROW_L_FORM": (-1, 1), "PARAM_BROW_R_FORM": (-1, 1),
    "PARAM_BREATH": (0, 1), "PARAM_TERE": (0, 1),
}
RECOLOR = {  # class groups whose hue may shift together, and the chance that they do
    "hair": (("hair",), 0.5),
    "eyes": (("eyes",), 0.4),
    "clothes": (("top", "bottom", "legwear", "headwear", "accessories"), 0.6),
}


@dataclass(frozen=True)
class Cast:
    """Characters loaded once per process (rigs and texture mip chains are costly to rebuild)."""

    characters: tuple[Character, ...]
    textures: tuple[tuple[list[np.ndarray], ...], ...]


@lru_cache(maxsize=4)
def load_cast(models: tuple[str, ...], cache: str | None = None) -> Cast:
    chars = tuple(Character(m, Path(cache) if cache else None) for m in models)
    return Cast(chars, tuple(tuple(mip_chain(t) for t in c.rig.textures) for c in chars))


def _streams(seed: int):
    return lambda stream: np.random.default_rng([seed, 7, stream])  # 7: apart from the synth renderer's streams


def pose(character: Character, rng: np.random.Generator) -> str:
    """Set a random pose: a motion frame or neutral, an expression, head and body angles, eyes,
    mouth and brows, one arm set per pose group. Returns a short description for the tags."""
    rig = character.rig
    rig.reset()
    rig.show_pose([int(rng.integers(len(g))) for g in rig.pose_groups])
    what = []
    if rig.motions and rng.random() < 0.7:
        m = int(rng.integers(len(rig.motions)))
        length = max((len(c) for c in rig.motions[m].values()), default=1)
        rig.apply_motion_frame(m, int(rng.integers(length)))
        what.append(f"motion{m}")
    if rig.expressions and rng.random() < 0.4:
        e = int(rng.integers(len(rig.expressions)))
        rig.apply_expression(e, float(rng.uniform(0.5, 1.0)))
        what.append(f"expression{e}")
    for param, (lo, hi) in POSE_RANGES.items():
        if rng.random() < 0.6:
            rig.set(param, rng.uniform(lo, hi))
    for eye in ("PARAM_EYE_L_OPEN", "PARAM_EYE_R_OPEN"):
        rig.set(eye, 1.0 if rng.random() < 0.7 else rng.uniform(0, 1))
    rig.set("PARAM_MOUTH_OPEN_Y", rng.uniform(0, 1) if rng.random() < 0.5 else 0.0)
    return "+".join(what) or "neutral"


def _bounds(points: list[np.ndarray]) -> np.ndarray:
    allp = np.concatenate(points)
    return np.concatenate([allp.min(0), allp.max(0)])


def frame_window(character: Character, meshes, framing: str) -> tuple[np.ndarray, float]:
    """The part of the posed figure a framing shows, as (x0, y0, x1, y1) in canvas units, and the
    face height in canvas units."""
    face = SCHEMA_16.names.index("face")
    face_pts = [m.points for m in meshes if character.label_of(m) == face]
    figure = _bounds([m.points for m in meshes])
    head = _bounds(face_pts) if face_pts else figure
    fh = max(head[3] - head[1], 1.0)
    top = max(head[1] - HAIR_ABOVE * fh, figure[1])
    below = FRAME_BOTTOM[framing]
    bottom = figure[3] if below is None else min(head[3] + below * fh, figure[3])
    cx = (head[0] + head[2]) / 2
    half_w = max((bottom - top) / 2, (figure[2] - figure[0]) / 2 if framing == "full" else 0)
    return np.array([cx - half_w, top, cx + half_w, bottom], np.float32), float(fh)


def _recolor(layer: Layer, rng: np.random.Generator) -> list[str]:
    """Shift the hue (and a little the saturation) of whole class groups: one character, many looks."""
    changed = []
    alpha = np.maximum(layer.alpha, 1e-6)[..., None]
    straight = np.clip(layer.color / alpha, 0, 1)
    hsv = np.asarray(Image.fromarray((straight * 255).astype(np.uint8)).convert("HSV")).astype(np.int16)
    touched = np.zeros(layer.alpha.shape, bool)
    for group, (names, p) in RECOLOR.items():
        if rng.random() >= p:
            continue
        ids = [SCHEMA_16.names.index(n) for n in names]
        mask = np.isin(layer.owner, ids)
        if not mask.any():
            continue
        hsv[..., 0][mask] = (hsv[..., 0][mask] + int(rng.integers(20, 236))) % 256
        hsv[..., 1][mask] = np.clip(hsv[..., 1][mask] * rng.uniform(0.7, 1.3), 0, 255)
        touched |= mask
        changed.append(group)
    if changed:
        rgb = np.asarray(Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB"), np.float32) / 255
        layer.color = np.where(touched[..., None], rgb * alpha, layer.color)
    return changed


def _background(kind: str, size: int, rng: np.random.Generator, photos: Sequence[Path]) -> np.ndarray:
    if kind != PHOTO:
        return render_background(kind, size, rng)
    with Image.open(photos[int(rng.integers(len(photos)))]) as img:
        img = img.convert("RGB")
        side = int(min(img.size) * rng.uniform(0.35, 1.0))
        x = int(rng.integers(0, img.size[0] - side + 1))
        y = int(rng.integers(0, img.size[1] - side + 1))
        crop = img.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.3:  # a shallow depth of field behind the characters
        crop = crop.filter(ImageFilter.GaussianBlur(size * rng.uniform(0.003, 0.012)))
    return np.asarray(crop)


def render(
    seed: int,
    size: int,
    models: Sequence[str],
    cache: str | None = None,
    photos: str | None = None,
    style: str | None = None,
    framing: str | None = None,
    num_characters: int | None = None,
    background: str | None = None,
) -> Sample:
    """Render the picture of ``seed``: a ``size`` x ``size`` RGB image and its 16-class label map,
    with characters drawn from ``models`` (names of mapping tables; see
    :mod:`animeparse.live2d.characters`). ``photos`` is a folder of background photographs;
    without one, backgrounds come from the procedural renderer. ``style``, ``framing``,
    ``num_characters`` and ``background`` force those choices.
    """
    if not models:
        raise ValueError("render() needs at least one Live2D model")
    for name, value, allowed in (("style", style, STYLES), ("framing", framing, FRAMINGS),
                                 ("background", background, BACKGROUNDS + (PHOTO,))):
        if value is not None and value not in allowed:
            raise ValueError(f"{name}={value!r}: choose from {', '.join(allowed)}")
    if num_characters is not None and not 1 <= num_characters <= MAX_CHARACTERS:
        raise ValueError(f"num_characters={num_characters!r}: from 1 to {MAX_CHARACTERS}")
    photo_list = list_photos(photos) if photos else ()
    if background == PHOTO and not photo_list:
        raise ValueError(f"background='photo' needs a folder of photographs (photos={photos!r} has none)")
    cast = load_cast(tuple(models), cache)
    rng_of = _streams(int(seed))
    rng = rng_of(0)

    style = style or str(rng.choice(STYLES, p=[0.6, 0.2, 0.2]))
    n = num_characters or int(rng.choice([1, 2, 3], p=[0.65, 0.25, 0.1]))
    if background is None:
        if photo_list and rng.random() < 0.5:
            background = PHOTO
        else:
            background = str(rng.choice(BACKGROUNDS, p=[0.2, 0.13, 0.17, 0.08, 0.2, 0.1, 0.06, 0.06]))
    frame = framing or str(rng.choice(FRAMINGS, p=[0.2, 0.3, 0.3, 0.2] if n == 1 else [0.05, 0.25, 0.35, 0.35]))

    label = np.zeros((size, size), np.uint8)
    color = _background(background, size, rng_of(1), photo_list)
    if style == "lineart":  # a sketch keeps its background faint
        color = color.astype(np.float32) * 0.3 + 255 * 0.7
    color = color.astype(np.float32) / 255

    picks = rng.choice(len(cast.characters), size=n, replace=n > len(cast.characters))  # twins only when few models
    slots = rng.permutation(n)  # left-to-right slot of each character; drawing order is depth order
    drawn, names, poses, looks, heads = [], [], [], [], []
    for i, k in enumerate(picks):
        char, tex = cast.characters[k], cast.textures[k]
        crng = rng_of(10 + i)
        poses.append(pose(char, crng))
        meshes = char.drawn(char.rig.meshes())
        window, face_h = frame_window(char, meshes, frame)
        # the window's height fills this share of the picture; several characters share the width
        fill = crng.uniform(0.8, 1.05) if n == 1 else crng.uniform(0.55, 0.95)
        scale = size * fill / max(window[3] - window[1], 1.0)
        slot_w = size / n
        cx = slot_w * (slots[i] + 0.5) + crng.uniform(-0.12, 0.12) * slot_w
        top = crng.uniform(-0.05, 0.1) * size if frame != "full" or n == 1 else crng.uniform(0, size * (1 - fill))
        flip = -1.0 if crng.random() < 0.5 else 1.0
        wx = (window[0] + window[2]) / 2
        to_pic = np.array([[flip * scale, 0, cx - flip * scale * wx], [0, scale, top - scale * window[1]]], np.float32)
        layer = draw_meshes(meshes, tex, to_pic, (size, size), char.label_of)
        looks.append(",".join(_recolor(layer, crng)) or "original")
        visible = layer.label >= 0
        color = layer.color + color * (1 - layer.alpha[..., None])
        label = np.where(visible, layer.label.astype(np.uint8), label)
        drawn.append(visible)
        names.append(char.name)
        heads.append(face_h * scale / size)

    # How much of each character the ones in front left visible (for the difficulty grade).
    shown = [np.count_nonzero(d & ~np.any(drawn[j + 1:], axis=0)) / max(np.count_nonzero(d), 1) if j + 1 < n else 1.0
             for j, d in enumerate(drawn)]
    rgb = np.clip(color * 255 + 0.5, 0, 255).astype(np.uint8)
    fx = rng_of(3)
    if style == "manga":
        rgb = screentone(rgb, fx)
    elif style == "lineart":
        rgb = np.asarray(to_lineart(Image.fromarray(rgb), radius=fx.uniform(1.2, 2.5), darkness=fx.uniform(2, 4)))
    softness = fx.uniform(0.0, 0.6)
    if softness > 0.3:
        rgb = soften(rgb, softness)
    odds = {"cast": 0.1, "glow": 0.06, "vignette": 0.08, "noise": 0.12, "blur": 0.08, "jpeg": 0.25}
    effects = tuple(e for e in EFFECTS if fx.random() < odds[e])
    strength = float(fx.uniform(0.15, 0.8))
    rgb = apply_effects(rgb, effects, strength, fx)

    stats = Stats(num_characters=n, min_head=min(heads) * 1.5,  # face to head height, as the renderer measures heads
                  min_visible=min(shown), busy_background=background not in SIMPLE_BACKGROUNDS,
                  strong_light=any(e in STRONG_LIGHT for e in effects) and strength > STRONG_EFFECT,
                  sketch=style == "lineart")
    tags = {"character": ",".join(names), "framing": frame, "background": background, "poses": ";".join(poses),
            "looks": ";".join(looks), "effects": ",".join(effects)}
    return Sample(Image.fromarray(rgb, "RGB"), Image.fromarray(label, "L"), grade(stats), style, n, int(seed), tags)
