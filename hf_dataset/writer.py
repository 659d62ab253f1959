"""Writing a Datasets repo in Hub layout, streaming and all-or-nothing.

Rows arrive from iterators and go to parquet shards a batch at a time, so memory stays bounded
whatever the dataset size. Everything is written into a temporary sibling folder that replaces
the target only once complete: a failed build leaves nothing behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from animeparse.data import ID2LABEL_FILE, SCHEMA_FILE
from animeparse.files import atomic_dir
from animeparse.labels import Schema

SPLIT_NAME = re.compile(r"[A-Za-z0-9_]+")
SHARD_NAME = re.compile(r"(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet")
"""Shards are named like the Hub's own: ``data/<split>-NNNNN-of-NNNNN.parquet``."""


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


ROWS_PER_BATCH = 64
"""Rows encoded before a parquet row group is written (bounds memory to a few batches)."""

MAX_SHARD_BYTES = 256 * 1024 * 1024
"""Start a new shard past this size; small shards load in parallel and upload resumably."""


def write_split(
    root: Path, split: str, rows: Iterable[Mapping], features: datasets.Features, on_row: Callable[[], None] | None = None,
    existing: Sequence[Path] = (),
) -> int:
    """Write one split as ``data/<split>-XXXXX-of-YYYYY.parquet``; return the rows written.

    ``existing`` shards of the split (in ``root/data``) stay first: they are renamed to the new
    shard count, not rewritten, and the new rows follow in new shards.
    """
    schema = features.arrow_schema
    data_dir = root / "data"
    data_dir.mkdir(exist_ok=True)
    shards: list[Path] = []
    writer: pq.ParquetWriter | None = None
    batch: list[dict] = []
    count = 0

    def flush() -> None:
        nonlocal writer
        if not batch:
            return
        if writer is None or shards[-1].stat().st_size > MAX_SHARD_BYTES:
            if writer is not None:
                writer.close()
            shards.append(data_dir / f"{split}.tmp{len(shards)}")
            writer = pq.ParquetWriter(shards[-1], schema)
        columns = {name: [row[name] for row in batch] for name in features}
        writer.write_table(pa.table(columns, schema=schema))
        batch.clear()

    for row in rows:
        missing = set(features) - set(row)
        if missing:
            raise ValueError(f"split {split!r}, row {count}: missing columns {sorted(missing)}")
        batch.append(features.encode_example({k: row[k] for k in features}))
        count += 1
        if on_row:
            on_row()
        if len(batch) >= ROWS_PER_BATCH:
            flush()
    flush()
    if writer is not None:
        writer.close()
    # names with the new count differ from every old name, so no rename overwrites a shard
    everything = [*existing, *shards]
    for i, shard in enumerate(everything):
        shard.rename(data_dir / shard_name(split, i, len(everything)))
    return count


def write_repo(
    out_dir: str | Path,
    splits: Mapping[str, Iterable[Mapping]],
    features: datasets.Features,
    schema: Schema,
    card: Callable[[dict[str, int]], str],
    overwrite: bool = False,
    on_row: Callable[[], None] | None = None,
    extra_files: Callable[[], Mapping[str, str]] | None = None,
) -> dict[str, int]:
    """Write a Datasets repo: parquet shards per split, ``id2label.json``, ``schema.json``, ``README.md``.

    ``splits`` maps split names to row iterators (dicts with every column of ``features``; image
    values as PIL images or ``{"bytes": png_bytes, "path": None}``). Empty splits are left out.
    ``card`` receives {split: row count} and returns the README.md text; ``extra_files`` gives
    more root files ({name: text}) once every row is written. Returns the counts.
    """
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        counts = {}
        for split, rows in splits.items():
            n = write_split(tmp, split, rows, features, on_row)
            if n:
                counts[split] = n
        if not counts:
            raise ValueError("no rows in any split; nothing to build")
        # id2label.json is the Hub convention that transformers' example scripts read;
        # schema.json keeps the palette and merges so a custom schema round-trips whole.
        (tmp / ID2LABEL_FILE).write_text(json.dumps(schema.id2label, indent=2) + "\n", encoding="utf-8")
        (tmp / SCHEMA_FILE).write_text(json.dumps(schema.to_json(), indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(card(counts), encoding="utf-8")
        for name, text in (extra_files() if extra_files else {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
    return counts
