"""Turning annotation files into label maps (H, W) of class ids, or saying exactly what is wrong.

Three formats: color-coded RGB masks with a palette, index masks (pixel value = class id) and
labelme JSON polygons. Every error names the file and the problem.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from animeparse.images import ImageError, open_checked, to_rgb
from animeparse.labels import IGNORE_COLOR, IGNORE_INDEX, Schema
from hf_dataset.records import AnnotationError

MAX_LISTED = 10
"""Unknown colors or values listed in an error (the most frequent first)."""

LABELME_BACKGROUND = "_background_"
LABELME_IGNORE = "__ignore__"
"""labelme's own conventions (its labelme2voc example) for explicit background and ignored areas."""


# ---------------------------------------------------------------- palettes and color masks


class ColorTable:
    """Color -> class id lookup for color-coded masks; white means ignore unless a class uses it."""

    def __init__(self, palette: dict[str, tuple[int, int, int]], schema: Schema, source: str = "palette"):
        unknown = [name for name in palette if name not in schema.label2id]
        if unknown:
            raise AnnotationError(f"{source}: classes {unknown} are not in schema {schema.name!r} ({', '.join(schema.names)})")
        table = {_key(color): schema.label2id[name] for name, color in palette.items()}
        table.setdefault(_key(IGNORE_COLOR), IGNORE_INDEX)
        keys = np.array(sorted(table), dtype=np.int32)
        self.keys = keys
        self.ids = np.array([table[k] for k in keys], dtype=np.uint8)

    def decode(self, rgb: np.ndarray, name: str) -> np.ndarray:
        """Map an (H, W, 3) uint8 mask to class ids; unknown colors raise, listed with pixel counts."""
        packed = _key(rgb)
        pos = np.minimum(np.searchsorted(self.keys, packed), len(self.keys) - 1)
        known = self.keys[pos] == packed
        if not known.all():
            colors, counts = np.unique(packed[~known], return_counts=True)
            order = np.argsort(-counts)[:MAX_LISTED]
            listed = ", ".join(f"{_hex(colors[i])} ({counts[i]:,} px)" for i in order)
            more = f" and {len(colors) - MAX_LISTED} more" if len(colors) > MAX_LISTED else ""
            raise AnnotationError(
                f"{name}: {int((~known).sum()):,} pixels have colors that are not in the palette: {listed}{more}"
            )
        return self.ids[pos]


def _key(rgb) -> np.ndarray | int:
    rgb = np.asarray(rgb, dtype=np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _hex(key: int) -> str:
    r, g, b = (int(key) >> 16) & 255, (int(key) >> 8) & 255, int(key) & 255
    return f"#{r:02x}{g:02x}{b:02x} ({r}, {g}, {b})"


def load_palette(path: str | Path) -> dict[str, tuple[int, int, int]]:
    """Read a palette file: a schema JSON (``{"classes": [{"name", "color"}, ...]}``), a JSON object
    ``{name: [r, g, b] or "#rrggbb"}``, or a CSV with columns ``name,color`` or ``name,r,g,b``."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: palette file not found")
    if path.suffix.lower() == ".csv":
        entries = _palette_csv(path)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise AnnotationError(f"{path}: palette is not valid JSON ({e})") from None
        if isinstance(data, dict) and "classes" in data:
            entries = [{"name": c.get("name"), "color": c.get("color")} for c in data["classes"]]
        elif isinstance(data, dict):
            entries = [{"name": name, "color": color} for name, color in data.items()]
        else:
            raise AnnotationError(f"{path}: palette must be a JSON object {{name: color}} or a schema with 'classes'")
    missing = [e.get("name") for e in entries if e.get("color") in (None, "")]
    if missing:
        raise AnnotationError(f"{path}: classes {missing} have no color")
    try:  # the schema parser checks names and colors once for every palette format
        schema = Schema.from_json({"name": path.stem, "classes": entries}, source=str(path))
    except ValueError as e:
        raise AnnotationError(str(e)) from None
    return dict(zip(schema.names, schema.palette))


def _palette_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    if "name" in columns and "color" in columns:
        return [{"name": r["name"].strip(), "color": r["color"].strip()} for r in rows]
    if {"name", "r", "g", "b"} <= set(columns):
        try:
            return [{"name": r["name"].strip(), "color": [int(r[c]) for c in "rgb"]} for r in rows]
        except ValueError as e:
            raise AnnotationError(f"{path}: r, g, b must be integers ({e})") from None
    raise AnnotationError(f"{path}: palette CSV needs columns name,color or name,r,g,b; found {columns}")


def read_color_mask(path: Path, table: ColorTable) -> np.ndarray:
    """Class ids of a color-coded mask (transparent pixels count as white, i.e. ignore)."""
    return table.decode(np.asarray(to_rgb(_open(path))), str(path))


# ---------------------------------------------------------------- index masks


def read_index_mask(path: Path, schema: Schema) -> np.ndarray:
    """Class ids of an index mask: a one-channel PNG whose pixel values are class ids (255 = ignore).

    Palette (P) images are read as their indices, not their colors.
    """
    img = ImageOps.exif_transpose(_open(path))
    if img.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
        raise AnnotationError(f"{path}: index mask has {img.mode} pixels; expected one channel of class ids (use the 'color' format for color-coded masks)")
    ids = np.asarray(img)
    if ids.ndim != 2:
        raise AnnotationError(f"{path}: index mask has {ids.ndim} dimensions; expected one channel of class ids")
    counts = np.bincount(ids.astype(np.int64).ravel())
    bad = [v for v in np.flatnonzero(counts) if v >= schema.num_classes and v != IGNORE_INDEX]
    if bad:
        bad.sort(key=lambda v: -counts[v])
        listed = ", ".join(f"{v} ({counts[v]:,} px)" for v in bad[:MAX_LISTED])
        more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise AnnotationError(
            f"{path}: values that are not class ids of schema {schema.name!r} (0..{schema.num_classes - 1}, "
            f"or {IGNORE_INDEX} = ignore): {listed}{more}"
        )
    return ids.astype(np.uint8)


def _open(path: Path) -> Image.Image:
    try:
        return open_checked(path)
    except ImageError as e:
        raise AnnotationError(str(e)) from None


# ---------------------------------------------------------------- labelme polygons


def read_labelme(path: Path) -> dict:
    """A labelme annotation file, checked for the keys the builder uses."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: not a valid labelme JSON file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list) or not data.get("imagePath"):
        raise AnnotationError(f"{path}: not a labelme annotation (needs 'imagePath' and a 'shapes' list)")
    return data


def labelme_image_path(data: dict) -> Path:
    """``imagePath`` as a relative path; labelme on Windows writes it with backslashes."""
    return Path(data["imagePath"].replace("\\", "/"))


def labelme_image(path: Path, data: dict) -> Path | bytes:
    """The annotated image: the file at ``imagePath`` (relative to the JSON), else the embedded ``imageData``."""
    image_path = path.parent / labelme_image_path(data)
    if image_path.is_file():
        return image_path
    if data.get("imageData"):
        try:
            return base64.b64decode(data["imageData"], validate=True)
        except (binascii.Error, ValueError):
            raise AnnotationError(f"{path}: imageData is not valid base64") from None
    raise AnnotationError(f"{path}: image {image_path} not found and no embedded imageData")


def rasterize_labelme(path: Path, data: dict, size: tuple[int, int], schema: Schema) -> np.ndarray:
    """Paint the shapes in file order (later shapes over earlier ones, as labelme's own export
    does) on a background-class canvas of ``size`` (width, height)."""
    declared = (data.get("imageWidth"), data.get("imageHeight"))
    if None not in declared and tuple(declared) != tuple(size):
        raise AnnotationError(
            f"{path}: annotation is for a {declared[0]}x{declared[1]} image but the image is {size[0]}x{size[1]}"
        )
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    for i, shape in enumerate(data["shapes"]):
        where = f"{path}: shape {i}"
        label = shape.get("label")
        if label == LABELME_BACKGROUND:
            class_id = 0
        elif label == LABELME_IGNORE:
            class_id = IGNORE_INDEX
        elif label in schema.label2id:
            class_id = schema.label2id[label]
        else:
            raise AnnotationError(f"{where}: label {label!r} is not in schema {schema.name!r} ({', '.join(schema.names)})")
        try:
            points = [(float(x), float(y)) for x, y in shape.get("points", [])]
        except (TypeError, ValueError):
            raise AnnotationError(f"{where} ({label!r}): points must be [[x, y], ...]") from None
        _draw_shape(draw, shape.get("shape_type") or "polygon", points, class_id, f"{where} ({label!r})")
    return np.asarray(canvas)


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, points: list[tuple[float, float]], class_id: int, where: str) -> None:
    needed = {"polygon": 3, "rectangle": 2, "circle": 2}
    if kind not in needed:
        raise AnnotationError(f"{where}: shape type {kind!r} is not supported; use {', '.join(needed)}")
    if len(points) < needed[kind]:
        raise AnnotationError(f"{where}: a {kind} needs at least {needed[kind]} points, got {len(points)}")
    if kind == "polygon":
        draw.polygon(points, fill=class_id, outline=class_id)
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = points[:2]
        draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=class_id, outline=class_id)
    else:  # labelme stores a circle as its center and one point on its edge
        (cx, cy), (px, py) = points[:2]
        r = math.hypot(px - cx, py - cy)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=class_id, outline=class_id)
