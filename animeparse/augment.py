"""Training augmentations: small pure functions on (image, mask) pairs.

Each function takes a PIL RGB image, its label mask (mode L, class ids, 255 = ignore, or None for
an unlabeled image) and a ``random.Random``, and returns a new pair; inputs are never modified.
Geometry moves image and mask together (bilinear for the image, nearest for the mask);
photometric changes touch the image only. :class:`Augment` chains them for training.

:func:`swap_background` puts photographs behind the labeled parts (backgrounds the data lacks);
:func:`paint_letters` writes big letters on the background (titles, banners, sound effects);
:func:`recolor_parts` gives hair and clothes colors the labeled characters lack.
:func:`to_lineart` turns a color illustration into a pencil-style sketch; training uses it so the
models also parse sketches, and other code imports it to make line-art inputs.
"""

from __future__ import annotations

import colorsys
import math
import random
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from animeparse.images import IMAGENET_MEAN, frame_window
from animeparse.labels import IGNORE_INDEX

Pair = tuple[Image.Image, "Image.Image | None"]

PAD_COLOR = tuple(round(255 * m) for m in IMAGENET_MEAN)
"""Image fill where a crop runs past the image: the normalisation mean, i.e. zero input."""


def resize_pair(image: Image.Image, mask: Image.Image | None, size: tuple[int, int]) -> Pair:
    """Resize to ``size`` (width, height): bilinear for the image, nearest for the mask."""
    image = image.resize(size, Image.BILINEAR)
    return image, None if mask is None else mask.resize(size, Image.NEAREST)


def _pad(image: Image.Image, size: tuple[int, int], fill) -> Image.Image:
    """Extend right and bottom to ``size`` (width, height) with ``fill`` (no resampling)."""
    canvas = Image.new(image.mode, size, fill)
    canvas.paste(image, (0, 0))
    return canvas


def random_scale_crop(
    image: Image.Image,
    mask: Image.Image | None,
    base_size: int,
    crop_size: int,
    scale_range: tuple[float, float],
    rng: random.Random,
    aspect_range: tuple[float, float] = (1.0, 1.0),
) -> Pair:
    """Resize the frame's height to ``base_size * s`` (s drawn from ``scale_range``), pad, crop ``crop_size``.

    That is the geometry of inference, which pads a picture to its frame and resizes the frame's
    height to ``base_size`` (:func:`animeparse.images.pad_to_frame`), so training sees parts at the sizes
    and proportions inference does. An ``aspect_range`` other than (1, 1) stretches the width by
    a factor drawn log-uniformly from it (and the height by its inverse), so the models also learn
    parts at other proportions (``pipeline()`` squashes a picture that is not square).
    Padding is the mean color in the image and IGNORE_INDEX in the mask.
    """
    side = base_size * rng.uniform(*scale_range)
    stretch = 1.0
    if aspect_range != (1.0, 1.0):  # no draw when off: runs without it keep their random stream
        stretch = math.sqrt(math.exp(rng.uniform(math.log(aspect_range[0]), math.log(aspect_range[1]))))
    frame_height = frame_window(image.height, image.width)[0]  # a square's side: the sizes of earlier runs
    width = max(1, round(side * stretch * (image.width / frame_height)))
    height = max(1, round(side / stretch * (image.height / frame_height)))
    image, mask = resize_pair(image, mask, (width, height))
    if width < crop_size or height < crop_size:
        padded = (max(width, crop_size), max(height, crop_size))
        image = _pad(image, padded, PAD_COLOR)
        mask = None if mask is None else _pad(mask, padded, IGNORE_INDEX)
        width, height = padded
    left, top = rng.randint(0, width - crop_size), rng.randint(0, height - crop_size)
    box = (left, top, left + crop_size, top + crop_size)
    return image.crop(box), None if mask is None else mask.crop(box)


def hflip(image: Image.Image, mask: Image.Image | None, rng: random.Random, p: float = 0.5) -> Pair:
    """Mirror left-right with probability ``p`` (the schema has no left/right classes)."""
    if rng.random() >= p:
        return image, mask
    return ImageOps.mirror(image), None if mask is None else ImageOps.mirror(mask)


def color_jitter(image: Image.Image, rng: random.Random, strength: float, hue: float) -> Image.Image:
    """Scale brightness, contrast and saturation by factors in [1 - strength, 1 + strength] and
    rotate the hue by up to ``hue`` of a turn: hair and clothes come in every color."""
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(rng.uniform(1 - strength, 1 + strength))
    if hue > 0:
        h, s, v = image.convert("HSV").split()
        shift = round(rng.uniform(-hue, hue) * 256)
        h = h.point(lambda value: (value + shift) % 256)
        image = Image.merge("HSV", (h, s, v)).convert("RGB")
    return image


def grayscale(image: Image.Image) -> Image.Image:
    """Drop color, keeping three channels."""
    return image.convert("L").convert("RGB")


def blur(image: Image.Image, rng: random.Random, radius_range: tuple[float, float]) -> Image.Image:
    """Gaussian blur with a radius drawn from ``radius_range`` (soft or low-resolution art)."""
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(*radius_range)))


def feathered_paste(image: Image.Image, other: Image.Image, region: np.ndarray) -> Image.Image:
    """``other`` where the (H, W) bool ``region`` is, ``image`` elsewhere, the seam feathered by a
    pixel: drawn art is anti-aliased, and a hard cut would teach that a jagged edge is an outline."""
    keep = Image.fromarray(np.where(region, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    return Image.composite(image, other, keep)


BACKGROUND_JITTER = 0.3
"""Brightness, contrast and saturation range of a swapped-in photograph's own jitter (``hue`` > 0)."""


def swap_background(
    image: Image.Image, mask: Image.Image | None, rng: random.Random, photos: Sequence[Path], hue: float = 0.0
) -> Pair:
    """The background (mask 0) replaced by a random crop of one of ``photos``; the parts stay.

    A labeled set draws its characters over a few dozen backgrounds, so a model can learn that a
    warm texture is hair or foliage is clothes; behind the same parts, any picture must stay
    background. ``hue`` > 0 jitters the photograph on its own (:func:`color_jitter`, its hue
    rotated by up to ``hue`` of a turn): a few dozen photographs then come in every color, a gray
    rock as an orange cave. The seam is feathered by a pixel (:func:`feathered_paste`). A grayscale
    picture (a sketch, a manga page) gets the photograph in grayscale. Pixels labeled 255 (padding,
    mixed drawables) stay.
    """
    if mask is None or not photos:
        return image, mask
    background = np.asarray(mask) == 0
    if not background.any():
        return image, mask
    with Image.open(photos[rng.randrange(len(photos))]) as photo:
        photo.draft("RGB", image.size)  # a JPEG decodes at a fraction of its size: no need for more
        photo = photo.convert("RGB")
        # a window of the photo with the image's proportions, 35-100% of the largest that fits
        fit = min(photo.width / image.width, photo.height / image.height) * rng.uniform(0.35, 1.0)
        w, h = min(photo.width, max(1, round(image.width * fit))), min(photo.height, max(1, round(image.height * fit)))
        x, y = rng.randint(0, photo.width - w), rng.randint(0, photo.height - h)
        crop = photo.resize(image.size, Image.BILINEAR, box=(x, y, x + w, y + h))
    if hue > 0:  # no draw when off: runs without it keep their random sequence
        crop = color_jitter(crop, rng, BACKGROUND_JITTER, hue)
    if is_gray(image, mask):
        crop = ImageOps.grayscale(crop).convert("RGB")
    return feathered_paste(image, crop, background), mask


def is_gray(image: Image.Image, mask: Image.Image) -> bool:
    """Whether an RGB picture has no color (a sketch, a manga page), what is added to it must not
    either; the crop's padding (mask 255, the normalisation mean's color) does not count."""
    rgb = np.asarray(image)[np.asarray(mask) != IGNORE_INDEX].astype(np.int16)
    return bool(np.abs(rgb - rgb.mean(axis=1, keepdims=True)).max(initial=0) <= 2)


LETTERS = string.ascii_letters + string.digits + "!?&"


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow's own outline font: no font files to find


def _random_color(rng: random.Random) -> tuple[int, int, int]:
    """Any hue, saturated or gray, dark or light: banners come in every color."""
    saturation = rng.choice((0.0, rng.uniform(0.3, 1.0)))
    return tuple(round(255 * c) for c in colorsys.hsv_to_rgb(rng.random(), saturation, rng.uniform(0.1, 1.0)))


def paint_letters(image: Image.Image, mask: Image.Image | None, rng: random.Random) -> Image.Image:
    """Big letters painted over the background (mask 0): one to three words, each 8-40% of the
    picture's height, in any color, half of them outlined in another, turned by up to 30 degrees.

    Scenes and pages carry titles, banners, signs and sound effects, none of them a part; the
    labeled backgrounds have none, and the models called a concert banner's big orange letters
    hair. The parts and the mask stay; the seam is feathered by a pixel (:func:`feathered_paste`).
    A grayscale picture gets gray letters."""
    if mask is None:
        return image
    background = np.asarray(mask) == 0
    if not background.any():
        return image
    painted = image.copy()
    for _ in range(rng.randint(1, 3)):
        size = max(8, round(image.height * rng.uniform(0.08, 0.4)))
        word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 8)))
        outline = rng.choice((0, max(1, size // 12)))
        font = _font(size)
        left, top, right, bottom = font.getbbox(word, stroke_width=outline)
        tile = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((-left, -top), word, font=font, fill=_random_color(rng),
                                  stroke_width=outline, stroke_fill=_random_color(rng))
        tile = tile.rotate(rng.uniform(-30, 30), Image.BICUBIC, expand=True)
        at = (rng.randint(-tile.width // 2, image.width - tile.width // 2),
              rng.randint(-tile.height // 2, image.height - tile.height // 2))
        painted.paste(tile, at, tile)
    if is_gray(image, mask):
        painted = ImageOps.grayscale(painted).convert("RGB")
    return feathered_paste(image, painted, background)


RECOLOR_CLASSES = ("hair", "top", "bottom", "legwear", "headwear")
"""Parts whose colors vary freely from character to character: :func:`recolor_parts` changes each
on its own (a jacket and a skirt get different colors)."""

RECOLOR_GAMMA = 3.0
"""Brightness curve range of :func:`recolor_parts`: value ** g with g log-uniform in [1/3, 3] (a
mid-gray goes as dark as 0.13 or as light as 0.79 of white)."""


def recolor_parts(image: Image.Image, mask: Image.Image, rng: random.Random, groups: Sequence[Sequence[int]]) -> Image.Image:
    """The pixels of each group of classes in ``groups`` recolored together: hue turned by a random
    angle, saturation scaled by 0-1.5 (down to none: white, gray or black) and brightness curved,
    the shading inside kept. The labeled characters come in a few dozen colors; real ones wear
    black jackets and have white hair (both read as background by earlier models). The seam is
    feathered by a pixel (:func:`feathered_paste`). A grayscale picture stays gray."""
    ids = np.asarray(mask)
    hsv = np.array(image.convert("HSV"), dtype=np.float32)
    changed = np.zeros(ids.shape, bool)
    for group in groups:
        region = np.isin(ids, group)
        if not region.any():
            continue
        h, s, v = hsv[region].T
        gamma = math.exp(rng.uniform(-math.log(RECOLOR_GAMMA), math.log(RECOLOR_GAMMA)))
        hsv[region] = np.stack([(h + rng.uniform(0, 256)) % 256, np.minimum(s * rng.uniform(0.0, 1.5), 255),
                                255 * (v / 255) ** gamma], axis=1)
        changed |= region
    if not changed.any():
        return image
    recolored = Image.merge("HSV", [Image.fromarray(c) for c in hsv.round().astype(np.uint8).transpose(2, 0, 1)])
    return feathered_paste(image, recolored.convert("RGB"), changed)


def to_lineart(image: Image.Image, radius: float = 2.0, darkness: float = 3.0) -> Image.Image:
    """A pencil-style sketch of ``image``: dark lines where colors change, white elsewhere.

    Color dodge of each channel with its blurred negative (flat areas turn white, edges stay
    dark), then the darkest channel, so a boundary between two colors of equal brightness still
    draws a line. ``darkness`` > 1 deepens the lines. Returns RGB of the same size.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    negative_blur = 255.0 - np.asarray(image.convert("RGB").filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    dodge = np.clip(rgb * 255.0 / np.maximum(255.0 - negative_blur, 1.0), 0, 255).min(axis=2)
    sketch = 255.0 * (dodge / 255.0) ** darkness
    return Image.fromarray(sketch.round().astype(np.uint8), "L").convert("RGB")


@dataclass(frozen=True)
class Augment:
    """The training augmentation: geometry on the pair, then photometric changes on the image."""

    base_size: int
    crop_size: int
    scale_range: tuple[float, float] = (0.5, 2.0)
    aspect_range: tuple[float, float] = (1.0, 1.0)
    hflip_p: float = 0.5
    jitter_p: float = 0.8
    jitter_strength: float = 0.3
    jitter_hue: float = 0.05
    grayscale_p: float = 0.1
    blur_p: float = 0.1
    blur_radius: tuple[float, float] = (0.3, 1.5)
    lineart_p: float = 0.1
    background_p: float = 0.0
    background_hue: float = 0.0
    photos: tuple[Path, ...] = ()
    letters_p: float = 0.0
    recolor_p: float = 0.0
    recolor_groups: tuple[tuple[int, ...], ...] = ()

    def __call__(self, image: Image.Image, mask: Image.Image | None, rng: random.Random) -> Pair:
        image, mask = random_scale_crop(image, mask, self.base_size, self.crop_size, self.scale_range, rng, self.aspect_range)
        if self.background_p and mask is not None and rng.random() < self.background_p:  # no draw when off
            image, mask = swap_background(image, mask, rng, self.photos, self.background_hue)
        if self.letters_p and mask is not None and rng.random() < self.letters_p:  # no draw when off
            image = paint_letters(image, mask, rng)
        if self.recolor_p and mask is not None:  # no draw when off
            groups = [group for group in self.recolor_groups if rng.random() < self.recolor_p]
            if groups:
                image = recolor_parts(image, mask, rng, groups)
        image, mask = hflip(image, mask, rng, self.hflip_p)
        if rng.random() < self.lineart_p:  # a sketch has no color left to jitter
            return to_lineart(image), mask
        if rng.random() < self.jitter_p:
            image = color_jitter(image, rng, self.jitter_strength, self.jitter_hue)
        if rng.random() < self.grayscale_p:
            image = grayscale(image)
        if rng.random() < self.blur_p:
            image = blur(image, rng, self.blur_radius)
        return image, mask
