"""What one row of an animeparse Datasets repo holds, and how inputs become row values.

Every split of every repo has the same columns (:data:`FEATURES`), so splits built from different
sources (annotations, the synthetic renderer, plain images) sit in one repo and load as one
``DatasetDict``. Every source yields rows through :func:`make_row`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

import datasets
import numpy as np
from PIL import Image

from animeparse.files import png_bytes
from animeparse.images import ImageError, open_checked, to_rgb
from animeparse.metadata import DIFFICULTIES, STYLES

METADATA_COLUMNS = ("difficulty", "style", "source", "character")
"""Optional per-image metadata, read from a CSV keyed by ``file_name``."""

METADATA_VALUES = {"difficulty": DIFFICULTIES, "style": STYLES}
"""Allowed values of the metadata columns that training and evaluation group by (one vocabulary
for synthetic and annotated splits)."""

FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "label": datasets.Image(),  # mode L class ids, 255 = ignore; None in unlabeled rows
        "file_name": datasets.Value("string"),
        **{column: datasets.Value("string") for column in METADATA_COLUMNS},
        "num_characters": datasets.Value("int32"),  # None when unknown
    }
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

PASS_THROUGH_FORMATS = ("PNG", "JPEG")
"""Formats whose file bytes are stored as they are when the decoded image is plain RGB: decoding
checks the file, and skipping the re-encode is most of a build's time."""

LABEL_PNG_LEVEL = 1
"""zlib level for label PNGs: label maps are flat regions that compress well even at the fastest level."""


class AnnotationError(ValueError):
    """An input (image, mask, annotation, metadata) is unusable; the message names the file."""


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AnnotationError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def image_value(source: Path | bytes, name: str) -> tuple[dict, tuple[int, int]]:
    """The ``image`` cell for a file (or its bytes) and the image size (width, height).

    The image is always decoded, which checks size limits and catches truncated files. Plain RGB
    PNG and JPEG files without EXIF are stored as their own bytes; anything else (alpha, grayscale,
    CMYK, 16 bit, EXIF rotation) is normalised by :func:`animeparse.images.to_rgb` and stored as PNG.
    EXIF may carry an orientation and private data (GPS), so such files are re-encoded without it.
    """
    try:
        img = open_checked(source, name=name)
    except ImageError as e:
        raise AnnotationError(str(e)) from None
    if img.format in PASS_THROUGH_FORMATS and img.mode == "RGB" and "exif" not in img.info:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return {"bytes": data, "path": None}, img.size
    rgb = to_rgb(img)  # may rotate (EXIF), so the size is taken after it
    return {"bytes": png_bytes(rgb), "path": None}, rgb.size


def label_value(label_map: np.ndarray) -> dict:
    """The ``label`` cell for an (H, W) uint8 map of class ids."""
    return {"bytes": png_bytes(Image.fromarray(label_map, "L"), LABEL_PNG_LEVEL), "path": None}


def make_row(
    image: dict, label: dict | None, file_name: str, metadata: Mapping[str, str] | None = None,
    num_characters: int | None = None,
) -> dict:
    """One row with every column of :data:`FEATURES`; metadata columns not given are None."""
    metadata = metadata or {}
    return {"image": image, "label": label, "file_name": file_name, **{c: metadata.get(c) for c in METADATA_COLUMNS},
            "num_characters": num_characters}


def read_metadata(path: str | Path) -> dict[str, dict[str, str]]:
    """Read a metadata CSV: a ``file_name`` column plus any of ``difficulty``, ``style``, ``source``.

    Returns {file name: {column: value}}; empty cells are left out (stored as None).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise AnnotationError(f"{path}: metadata file not found") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise AnnotationError(f"{path}: not a readable CSV file ({e})") from None
    if "file_name" not in columns:
        raise AnnotationError(f"{path}: needs a 'file_name' column; found columns {columns}")
    unknown = [c for c in columns if c not in ("file_name", *METADATA_COLUMNS)]
    if unknown:
        raise AnnotationError(f"{path}: unknown columns {unknown}; allowed: file_name, {', '.join(METADATA_COLUMNS)}")
    table: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("file_name") or "").strip()
        if not name:
            raise AnnotationError(f"{path}, line {line}: empty file_name")
        if name in table:
            raise AnnotationError(f"{path}, line {line}: {name!r} is listed twice")
        values = {c: row[c].strip() for c in METADATA_COLUMNS if (row.get(c) or "").strip()}
        for column, allowed in METADATA_VALUES.items():
            if column in values and values[column] not in allowed:
                raise AnnotationError(
                    f"{path}, line {line}: {column} {values[column]!r} for {name!r}; allowed: {', '.join(allowed)}"
                )
        table[name] = values
    return table
