"""The dataset card (README.md) of an animeparse Datasets repo: YAML metadata the Hub and
``datasets.load_dataset`` read (configs, features, split sizes), a class table and column notes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from animeparse.labels import IGNORE_INDEX, Schema
from hf_dataset.records import FEATURES, METADATA_VALUES

COLUMN_NOTES = {
    "image": "the illustration (RGB)",
    "label": f"class id per pixel (8-bit PNG, mode L; {IGNORE_INDEX} = ignore); empty in unlabeled rows",
    "file_name": "name of the source image file",
    "difficulty": "how hard the image is to parse: " + ", ".join(METADATA_VALUES["difficulty"]),
    "style": "drawing style: " + ", ".join(METADATA_VALUES["style"]),
    "source": "where the image comes from (artist, site, renderer)",
    "character": "which characters the picture shows, comma-separated (empty when unknown)",
    "num_characters": "how many characters the picture shows (empty when unknown)",
}


@dataclass
class SplitStats:
    """What the card reports about a split, gathered while its rows stream past."""

    rows: int = 0
    labeled: int = 0
    num_bytes: int = 0
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))

    def count(self, image: dict, label: dict | None, label_map: np.ndarray | None, sign: int = 1) -> None:
        """Count one row (its encoded cells and, for a labeled row, its class ids); ``sign=-1`` takes it off."""
        self.rows += sign
        self.num_bytes += sign * (len(image["bytes"]) + (len(label["bytes"]) if label else 0))
        if label_map is not None:
            self.labeled += sign
            self.pixels += sign * np.bincount(label_map.ravel(), minlength=256)

    def add(self, other: "SplitStats") -> None:
        self.rows += other.rows
        self.labeled += other.labeled
        self.num_bytes += other.num_bytes
        self.pixels += other.pixels

    def to_json(self) -> dict:
        return {"rows": self.rows, "labeled": self.labeled, "num_bytes": self.num_bytes,
                "pixels": {str(i): int(n) for i, n in enumerate(self.pixels) if n}}

    @classmethod
    def from_json(cls, data: dict) -> "SplitStats":
        pixels = np.zeros(256, dtype=np.int64)
        for i, n in data["pixels"].items():
            pixels[int(i)] = n
        return cls(data["rows"], data["labeled"], data["num_bytes"], pixels)


STATS_FILE = "stats.json"
"""Per-split counts behind the card (rows, labeled rows, bytes, pixels per class), so adding rows
updates the card without reading the rows already there."""


def stats_json(stats: dict[str, SplitStats]) -> str:
    return json.dumps({split: s.to_json() for split, s in stats.items() if s.rows}, indent=1) + "\n"


def read_stats(repo: Path) -> dict[str, SplitStats] | None:
    """The repo's :data:`STATS_FILE`, or None if it has none (built before the file existed)."""
    path = Path(repo) / STATS_FILE
    if not path.is_file():
        return None
    return {split: SplitStats.from_json(s) for split, s in json.loads(path.read_text(encoding="utf-8")).items()}


SOURCES_HEADING = "## Sources and terms\n"


def card_settings(readme: Path) -> tuple[str, str, str]:
    """(title, license, sources section) of an existing card, to render it again with new counts."""
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(readme)
    title = card.data.pretty_name or readme.parent.name
    return title, card.data.license or "unknown", card_sources(readme.read_text(encoding="utf-8"))


def card_sources(text: str) -> str:
    """The "Sources and terms" section of a card's text (where its pictures come from and on what
    terms), empty when it has none."""
    _, found, section = text.partition(SOURCES_HEADING)
    return section.split("\n## ")[0].strip() if found else ""


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def render_card(title: str, schema: Schema, stats: dict[str, SplitStats], license: str, sources: str = "") -> str:
    """README.md text for a repo whose splits have the given stats (splits with no rows are left out);
    ``sources`` (markdown) says where the pictures come from and on what terms."""
    stats = {split: s for split, s in stats.items() if s.rows}
    data = DatasetCardData(
        license=license,
        task_categories=["image-segmentation"],
        task_ids=["semantic-segmentation"],
        size_categories=size_category(sum(s.rows for s in stats.values())),
        pretty_name=title,
        tags=["anime", "character-parsing", "animeparse"],
    )
    splits = SplitDict()
    for split, s in stats.items():
        splits.add(SplitInfo(name=split, num_examples=s.rows, num_bytes=s.num_bytes))
    info = DatasetInfo(features=FEATURES, splits=splits, dataset_size=sum(s.num_bytes for s in stats.values()))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    MetadataConfigs({"default": {"data_files": [{"split": split, "path": f"data/{split}-*"} for split in stats]}}).to_dataset_card_data(data)
    body = _body(title, schema, stats)
    if sources:
        body += f"\n{SOURCES_HEADING}\n{sources.strip()}\n"
    return f"---\n{data.to_yaml()}\n---\n\n{body}"


def _body(title: str, schema: Schema, stats: dict[str, SplitStats]) -> str:
    lines = [
        f"# {title}",
        "",
        "Anime character parsing data: every labeled pixel carries a part class (hair, face, eyes, clothes, ...).",
        "Built with animeparse's `hf_dataset/build.py`; load it with `datasets.load_dataset` (Hub id or local folder)",
        "or `animeparse.data.load_parsing_dataset`.",
        "",
        "## Splits",
        "",
        "| split | rows | labeled |",
        "|---|---:|---:|",
        *(f"| {split} | {s.rows:,} | {s.labeled:,} |" for split, s in stats.items()),
        "",
        "## Columns",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| `{name}` | {COLUMN_NOTES[name]} |" for name in FEATURES),
        "",
        f"## Classes ({schema.name})",
        "",
        f"`id2label.json` maps ids to names; `schema.json` also holds the palette. Pixel share counts labeled",
        f"pixels of all splits (ignored pixels, id {IGNORE_INDEX}, left out).",
        "",
        "| id | name | color | pixel share |",
        "|---:|---|---|---:|",
    ]
    pixels = sum(s.pixels for s in stats.values())[: schema.num_classes]
    total = int(pixels.sum())
    for i, (name, color) in enumerate(zip(schema.names, schema.palette)):
        hex_color = "#{:02x}{:02x}{:02x}".format(*color)
        share = f"{100 * pixels[i] / total:.2f}%" if total else "-"
        lines.append(f"| {i} | {name} | $\\color{{{hex_color}}}\\blacksquare$ `{hex_color}` | {share} |")
    return "\n".join(lines) + "\n"
