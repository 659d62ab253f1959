"""Reading images safely: one place that turns any file a user brings into RGB, or says why not.

Used by the dataset builder, the app and the batch predictor, so every entry point treats
transparency, EXIF rotation, odd modes and oversized files the same way.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 8192 * 8192
"""Largest image accepted (width x height); larger ones are refused before decoding, since a
small compressed file can expand to gigabytes (decompression bombs)."""

MIN_SIDE = 8
"""Smallest width or height worth parsing; SegFormer's first stage has stride 4."""

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
"""The models' input normalisation (SegFormer's, from ImageNet): the image processor applies it,
and training pads crops with the mean color."""

ImageSource = Union[str, Path, bytes, Image.Image]


class ImageError(ValueError):
    """An input image cannot be used; the message names the input and the problem."""


def _name(source: ImageSource, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, Path)):
        return str(source)
    return "<image>" if isinstance(source, Image.Image) else "<bytes>"


def open_checked(source: ImageSource, *, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image (first frame if animated), check its size before decoding, decode it fully.

    Returns the image in its own mode; :func:`load_rgb` converts it.
    """
    label = _name(source, name)
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            fp = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
        except FileNotFoundError:
            raise ImageError(f"{label}: file not found") from None
        except OSError as e:
            raise ImageError(f"{label}: cannot open ({e.strerror or e})") from None
        try:
            img = Image.open(fp)
        except UnidentifiedImageError:
            raise ImageError(f"{label}: not an image file (unknown or unsupported format)") from None
        except Image.DecompressionBombError as e:
            raise ImageError(f"{label}: image too large ({e})") from None
        except OSError as e:
            raise ImageError(f"{label}: unreadable image ({e})") from None
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(f"{label}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{label}: image is {w}x{h}; each side must be at least {MIN_SIDE} pixels")
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
    except (OSError, SyntaxError, ValueError) as e:  # PIL reports truncation and corruption as these
        raise ImageError(f"{label}: corrupt or truncated image ({e})") from None
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB view of any PIL image: EXIF rotation applied, transparency composited over white,
    16-bit and float scaled to 8 bit, CMYK and palettes converted."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        # Pasting through the alpha channel onto white gives alpha_composite's values exactly (all
        # 256 x 256 value and alpha pairs checked) in a third of its time: one pass, no RGBA copy.
        rgb = Image.new("RGB", rgba.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        return rgb
    return img.convert("RGB")


def load_rgb(source: ImageSource, *, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open any supported image as RGB, or raise :class:`ImageError` naming ``name`` or the path."""
    return to_rgb(open_checked(source, name=name, max_pixels=max_pixels))


MAX_ASPECT = 2
"""The widest frame (width / height) a picture is parsed in; a wider picture is padded up to it."""


def frame_window(height: int, width: int, max_aspect: float = MAX_ASPECT) -> tuple[int, int, int, int]:
    """``(frame height, frame width, top, left)``: where a ``height`` x ``width`` picture sits,
    centered, on the frame :func:`pad_to_frame` makes of it."""
    frame_height = max(height, math.ceil(width / max_aspect))
    frame_width = max(width, frame_height)
    return frame_height, frame_width, (frame_height - height) // 2, (frame_width - width) // 2


def pad_to_frame(img: Image.Image, max_aspect: float = MAX_ASPECT) -> Image.Image:
    """An RGB picture centered on its frame, its edge pixels repeated outward: a square for a
    picture taller than wide, the picture itself up to ``max_aspect`` (width / height), wider than
    that padded up to it. The model then sees the frame's height at its input size.

    Why the height: the models trained on square pictures of characters, and a character's scale
    follows the picture's height. Squashed to a square, a tall sprite comes out twice as wide as
    drawn; padded to a square, its parts keep their proportions, and so do those of a wide scene,
    but its characters shrink with its width. Kept wide, characters side by side are as large as
    each alone (Ren'Py sprites on 16:9 screens, foreground IoU: padded to a square 0.849, framed
    0.889; two held-out Live2D pictures side by side, 16-class mean IoU 0.420 and 0.588). A tall
    picture kept tall scores lower (Ren'Py sprites on white 0.916 against 0.958 padded to a
    square): a whole figure at its height's scale is larger than the models saw characters.
    Repeating the edge continues a background (a white margin stays white) where a flat color
    would draw a frame for the models to label (Ren'Py sprites, foreground IoU on white: squashed
    0.885, mean-color padding 0.772, edge padding 0.938).
    """
    frame_height, frame_width, top, left = frame_window(img.height, img.width, max_aspect)
    if (frame_width, frame_height) == img.size:
        return img
    img = img.convert("RGB")
    frame = Image.new("RGB", (frame_width, frame_height))
    frame.paste(img, (left, top))
    # Each margin is the picture's edge row or column stretched (nearest: copied) across it, as
    # numpy's edge padding does, in a tenth of its time. Only one axis is padded.
    w, h = img.size
    if w < frame_width:  # (edge box, margin size, where it goes)
        margins = [((0, 0, 1, h), (left, h), (0, 0)), ((w - 1, 0, w, h), (frame_width - w - left, h), (left + w, 0))]
    else:
        margins = [((0, 0, w, 1), (w, top), (0, 0)), ((0, h - 1, w, h), (w, frame_height - h - top), (0, top + h))]
    for edge, size, at in margins:
        if min(size) > 0:
            frame.paste(img.crop(edge).resize(size, Image.NEAREST), at)
    return frame


def fit_within(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the longer side is at most ``max_side``."""
    scale = max_side / max(img.size)
    if scale >= 1:
        return img
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
