"""The label schema: class names, ids, palette, and merges between schemas.

The schema is data (``animeparse/schemas/anime16.json``); this module is its only reader, and
every other part of the project (datasets, training, metrics, the app) imports it from here.
A user's own class list is a JSON file of the same shape, loaded with :func:`load_schema`.
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

IGNORE_INDEX = 255
"""Label value for pixels that no loss or metric counts."""

IGNORE_COLOR = (255, 255, 255)
"""Color of ignored pixels in color-coded maps (black is the background class)."""


@dataclass(frozen=True)
class Schema:
    """An ordered list of classes; a class id is its position in ``names``."""

    name: str
    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    descriptions: tuple[str, ...] = ()
    # Target schema name -> {target class: [source classes]}.
    merges: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError(f"schema {self.name!r}: no classes")
        if len(self.names) >= IGNORE_INDEX:
            raise ValueError(f"schema {self.name!r}: at most {IGNORE_INDEX} classes, got {len(self.names)}")
        if len(set(self.names)) != len(self.names):
            dupes = sorted({n for n in self.names if self.names.count(n) > 1})
            raise ValueError(f"schema {self.name!r}: duplicate class names {dupes}")
        if len(self.palette) != len(self.names):
            raise ValueError(f"schema {self.name!r}: {len(self.names)} classes but {len(self.palette)} colors")
        if len(set(self.palette)) != len(self.palette):
            raise ValueError(f"schema {self.name!r}: two classes share a color; color-coded masks would be ambiguous")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def color_lut(self) -> np.ndarray:
        """A (256, 3) uint8 table: class id -> RGB; ids outside the schema map to IGNORE_COLOR."""
        lut = np.tile(np.array(IGNORE_COLOR, np.uint8), (256, 1))
        lut[: self.num_classes] = np.array(self.palette, np.uint8)
        return lut

    def colorize(self, label_map: np.ndarray) -> np.ndarray:
        """Color-code a (H, W) label map as an (H, W, 3) uint8 image."""
        return self.color_lut()[np.asarray(label_map, dtype=np.uint8)]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "ignore_index": IGNORE_INDEX,
            "classes": [
                {"name": n, "color": list(c), **({"description": d} if d else {})}
                for n, c, d in zip(self.names, self.palette, self.descriptions or [""] * self.num_classes)
            ],
            "merges": {k: {t: list(s) for t, s in v.items()} for k, v in self.merges.items()},
        }

    @classmethod
    def from_json(cls, data: dict, source: str = "<dict>") -> "Schema":
        try:
            classes = data["classes"]
            names = tuple(str(c["name"]) for c in classes)
            colors = [c.get("color") for c in classes]
        except (KeyError, TypeError) as e:
            raise ValueError(f"{source}: a schema needs 'classes': [{{'name': ..., 'color': [r, g, b]}}, ...] ({e})") from None
        if any(c is None for c in colors):
            fallback = default_palette(len(names))
            colors = [c if c is not None else fallback[i] for i, c in enumerate(colors)]
        palette = tuple(_parse_color(c, f"{source}: class {n!r}") for n, c in zip(names, colors))
        return cls(
            name=str(data.get("name", Path(source).stem)),
            names=names,
            palette=palette,
            descriptions=tuple(str(c.get("description", "")) for c in classes),
            merges=data.get("merges", {}),
        )

    @classmethod
    def from_id2label(cls, id2label: Mapping[int | str, str], name: str = "custom") -> "Schema":
        """The schema of a model or dataset that carries only ``id2label``.

        The canonical class list is recognised and gives :data:`SCHEMA_16` itself, with the merges
        a bare ``id2label`` lacks. Other known class names keep their canonical color, so a model
        of the merged classes and the schema agree.
        """
        ids = sorted(int(i) for i in id2label)
        if ids != list(range(len(ids))):
            raise ValueError(f"id2label ids must be 0..N-1, got {ids}")
        names = tuple(id2label[i] if i in id2label else id2label[str(i)] for i in ids)
        if names == SCHEMA_16.names:
            return SCHEMA_16
        known = {n: c for s in (SCHEMA_16, SCHEMA_13) for n, c in zip(s.names, s.palette)}
        fallback = iter(c for c in default_palette(len(names) + len(known)) if c not in known.values())
        palette = tuple(known.get(n) or next(fallback) for n in names)
        if len(set(palette)) != len(palette):  # a custom class took a canonical color by chance
            palette = tuple(default_palette(len(names)))
        return cls(name=name, names=names, palette=palette)


def _parse_color(value, where: str) -> tuple[int, int, int]:
    if isinstance(value, str):
        h = value.lstrip("#")
        if len(h) == 6:
            try:
                return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
            except ValueError:
                pass
    elif isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in value):
        return tuple(value)  # type: ignore[return-value]
    raise ValueError(f"{where}: color must be [r, g, b] with 0..255 values or '#rrggbb', got {value!r}")


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """N well-separated colors (golden-ratio hues), for schemas that bring none."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65 + 0.35 * (i % 2), 0.95 - 0.3 * ((i // 2) % 2))
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def load_schema(path: str | Path) -> Schema:
    """Load a schema from a JSON file (same shape as ``animeparse/schemas/anime16.json``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"schema file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    return Schema.from_json(data, source=str(path))


def merged_schema(schema: Schema, target: str) -> Schema:
    """The coarser schema that ``schema.merges[target]`` defines; each class keeps the color
    of its first member so maps look alike under both schemas."""
    if target not in schema.merges:
        raise KeyError(f"schema {schema.name!r} has no merge {target!r}; it has {sorted(schema.merges)}")
    groups = schema.merges[target]
    color = dict(zip(schema.names, schema.palette))
    return Schema(name=target, names=tuple(groups), palette=tuple(color[members[0]] for members in groups.values()))


def remap_table(source: Schema, target: Schema, mapping: Mapping[str, Sequence[str]] | None = None) -> np.ndarray:
    """A (256,) uint8 lookup table from ``source`` ids to ``target`` ids.

    ``mapping`` is {target class: [source classes]}; by default it is ``source.merges[target.name]``,
    or, when absent, identity by class name. A source class with no target becomes IGNORE_INDEX;
    IGNORE_INDEX stays IGNORE_INDEX.
    """
    if mapping is None:
        mapping = source.merges.get(target.name) or {n: [n] for n in target.names if n in source.label2id}
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for target_name, members in mapping.items():
        if target_name not in target.label2id:
            raise ValueError(f"merge into {target.name!r}: unknown target class {target_name!r}")
        for member in members:
            if member not in source.label2id:
                raise ValueError(f"merge from {source.name!r}: unknown source class {member!r}")
            lut[source.label2id[member]] = target.label2id[target_name]
    return lut


def remap(label_map: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Apply a :func:`remap_table` to a label map (any shape, uint8 or integer ids)."""
    return table[np.asarray(label_map).astype(np.int64) & 255].astype(np.uint8)


SCHEMA_16 = Schema.from_json(
    json.loads(resources.files("animeparse").joinpath("schemas/anime16.json").read_text(encoding="utf-8")),
    source="anime16.json",
)
SCHEMA_13 = merged_schema(SCHEMA_16, "anime-13")
MERGE_16_TO_13 = remap_table(SCHEMA_16, SCHEMA_13)

COARSE_GROUPS = {
    "background": ["background"],
    "hair": ["hair"],
    "skin": ["face", "eyes", "eyebrows", "mouth", "skin", "arms", "legs"],
    "clothes": ["top", "bottom", "legwear", "headwear", "accessories"],
}
"""Coarse parts for benchmarks (what matting and colorization need first); animal parts and
props belong to none of them and are left out of coarse scores."""
SCHEMA_COARSE = Schema(name="coarse-4", names=tuple(COARSE_GROUPS),
                       palette=tuple(SCHEMA_16.palette[SCHEMA_16.label2id[m[0]]] for m in COARSE_GROUPS.values()))
MERGE_16_TO_COARSE = remap_table(SCHEMA_16, SCHEMA_COARSE, COARSE_GROUPS)


def schema_choices(schema: Schema) -> dict[str, Schema]:
    """The schemas that ``schema``'s label maps can be shown or trained in, keyed by class count
    as a string (the ``--classes`` and app values): its own and each of its merges."""
    choices = {str(schema.num_classes): schema}
    for target in schema.merges:
        merged = merged_schema(schema, target)
        choices[str(merged.num_classes)] = merged
    return choices


def get_schema(classes: int | str) -> Schema:
    """Resolve a ``--classes`` value: a class count of the canonical schema's choices (16, 13),
    or the path of a schema JSON file."""
    return schema_choices(SCHEMA_16).get(str(classes)) or load_schema(classes)
