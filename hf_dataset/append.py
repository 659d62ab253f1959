"""Adding rows to a Datasets repo without rewriting it: the app's "save as training data" and
``build.py --add``.

A save writes the new rows as parquet (into the split's last shard while that shard is small,
else into a new shard) and renames the split's other shards to the new count
(``train-00000-of-00003`` -> ``train-00000-of-00004``): renames and one small shard, so a save
takes the same time in a repo of 10 rows or of 100,000. The card, ``stats.json`` (the counts behind
the card) and, for a new repo, ``id2label.json`` and ``schema.json`` are written with it.

All of it happens in a hard-linked copy of the repo that replaces the repo in one step
(:func:`animeparse.files.updated_dir`): a failed or killed save leaves the repo as it was. Saves
to one repo take turns (a lock file beside it). A row whose ``file_name`` the split already has
is replaced only when asked (``replace=True``); otherwise :class:`RowExists` is raised.
"""

from __future__ import annotations

import fcntl
import io
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from animeparse.data import ID2LABEL_FILE, SCHEMA_FILE, load_dataset_schema
from animeparse.files import atomic_dir, updated_dir, write_atomic
from animeparse.labels import Schema
from hf_dataset.card import STATS_FILE, SplitStats, card_settings, read_stats, render_card, stats_json
from hf_dataset.records import FEATURES
from hf_dataset.writer import SHARD_NAME, SPLIT_NAME, write_split


SMALL_SHARD_BYTES = 8 * 1024 * 1024
SMALL_SHARD_ROWS = 64
"""A split's last shard takes new rows (and is rewritten) while it is under both limits; past
either, a save starts a new shard. Bounds both the rewrite per save and the number of shards."""


class RowExists(FileExistsError):
    """The split already has a row of that file name; save again with ``replace=True`` to replace it."""


@dataclass
class Saved:
    repo: Path
    split: str
    rows: int  # rows of the split after the save
    replaced: list[str]  # file names of rows that were replaced


def split_shards(repo: Path) -> dict[str, list[Path]]:
    """{split: its shards in order}, checked to be named ``<split>-NNNNN-of-NNNNN.parquet`` and complete."""
    shards: dict[str, list[Path]] = {}
    for path in sorted((repo / "data").glob("*.parquet")):
        match = SHARD_NAME.fullmatch(path.name)
        if not match:
            raise ValueError(f"{path}: not a shard of an animeparse repo (<split>-NNNNN-of-NNNNN.parquet)")
        shards.setdefault(match["split"], []).append(path)
    for split, paths in shards.items():
        counts = {int(SHARD_NAME.fullmatch(p.name)["count"]) for p in paths}
        if counts != {len(paths)}:
            raise ValueError(f"{repo}: the {split} shards do not say the same count as there are shards: "
                             f"{[p.name for p in paths]}")
    return shards


def _label_map(cell: dict | None) -> np.ndarray | None:
    return None if cell is None else np.asarray(Image.open(io.BytesIO(cell["bytes"])))


def _scan_stats(shards: dict[str, list[Path]]) -> dict[str, SplitStats]:
    """Counts of a repo that has no stats.json (built before it existed): read once, then kept."""
    stats = {}
    for split, paths in shards.items():
        stats[split] = s = SplitStats()
        for path in paths:
            for row in pq.read_table(path, columns=["image", "label"]).to_pylist():
                s.count(row["image"], row["label"], _label_map(row["label"]))
    return stats


@contextmanager
def _locked(repo: Path) -> Iterator[None]:
    lock = repo.parent / f".{repo.name}.lock"
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _new_repo(repo: Path, schema: Schema) -> None:
    """An empty repo: schema files and no rows yet (the card is written with the first rows)."""
    with atomic_dir(repo) as tmp:
        (tmp / "data").mkdir()
        (tmp / ID2LABEL_FILE).write_text(json.dumps(schema.id2label, indent=2) + "\n", encoding="utf-8")
        (tmp / SCHEMA_FILE).write_text(json.dumps(schema.to_json(), indent=2) + "\n", encoding="utf-8")
        (tmp / STATS_FILE).write_text(stats_json({}), encoding="utf-8")


def append_rows(
    repo: str | Path,
    split: str,
    rows: Sequence[Mapping],
    schema: Schema,
    replace: bool = False,
    license: str = "unknown",
    small_shard_bytes: int = SMALL_SHARD_BYTES,
) -> Saved:
    """Add ``rows`` (encoded cells, as :func:`hf_dataset.records.make_row` with PNG bytes) to
    ``split`` of the repo at ``repo``, creating the repo if it does not exist."""
    repo = Path(repo)
    if not SPLIT_NAME.fullmatch(split):
        raise ValueError(f"split {split!r}: use letters, digits and underscores only")
    if not rows:
        raise ValueError("no rows to save")
    names = [row["file_name"] for row in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"rows to save share file names: {sorted({n for n in names if names.count(n) > 1})}")
    encoded = [FEATURES.encode_example({k: row[k] for k in FEATURES}) for row in rows]
    repo.parent.mkdir(parents=True, exist_ok=True)
    with _locked(repo):
        if not repo.exists():
            _new_repo(repo, schema)
        elif not (repo / "data").is_dir():
            raise ValueError(f"{repo}: exists but is not a Datasets repo (no data/ folder)")
        stored = load_dataset_schema(repo)
        if stored.names != schema.names:
            raise ValueError(f"{repo}: its classes ({', '.join(stored.names)}) differ from these ({', '.join(schema.names)})")
        with updated_dir(repo) as stage:
            return _save(stage, repo, split, encoded, stored, replace, license, small_shard_bytes)


def _save(
    stage: Path, repo: Path, split: str, rows: list[dict], schema: Schema, replace: bool, license: str, small: int
) -> Saved:
    shards = split_shards(stage)
    stats = read_stats(stage)
    if stats is None:
        stats = _scan_stats(shards)
    split_stats = stats.setdefault(split, SplitStats())
    paths = shards.get(split, [])
    arrow_schema = FEATURES.arrow_schema

    # Rows that replace stored ones go into the shard that holds them; the others are appended.
    new_by_name = {row["file_name"]: row for row in rows}
    replaced = []
    for path in paths:
        stored_names = pq.read_table(path, columns=["file_name"])["file_name"].to_pylist()
        clash = [n for n in stored_names if n in new_by_name]
        if not clash:
            continue
        if not replace:
            raise RowExists(f"{repo}: split {split!r} already has a row named {clash[0]!r}; "
                            "save again with replace to overwrite it")
        table = pq.read_table(path).to_pylist()
        for i, row in enumerate(table):
            if row["file_name"] in new_by_name:
                split_stats.count(row["image"], row["label"], _label_map(row["label"]), sign=-1)
                table[i] = new_by_name.pop(row["file_name"])
                split_stats.count(table[i]["image"], table[i]["label"], _label_map(table[i]["label"]))
                replaced.append(row["file_name"])
        _write_shard(path, table, arrow_schema)

    appended = list(new_by_name.values())
    if appended:
        for row in appended:
            split_stats.count(row["image"], row["label"], _label_map(row["label"]))
        if paths and paths[-1].stat().st_size < small and pq.ParquetFile(paths[-1]).metadata.num_rows < SMALL_SHARD_ROWS:
            _write_shard(paths[-1], pq.read_table(paths[-1]).to_pylist() + appended, arrow_schema)
        else:
            write_split(stage, split, appended, FEATURES, existing=paths)

    readme = stage / "README.md"
    title, card_license, sources = card_settings(readme) if readme.is_file() else (repo.name, license, "")
    write_atomic(stage / STATS_FILE, stats_json(stats))
    write_atomic(readme, render_card(title, schema, stats, card_license, sources))
    return Saved(repo, split, split_stats.rows, replaced)


def _write_shard(path: Path, rows: list[dict], arrow_schema: pa.Schema) -> None:
    """Write a shard as a new file (``path`` may be a hard link shared with the live repo: never write into it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema), tmp)
    tmp.replace(path)


def extend_repo(
    repo: str | Path,
    splits: Mapping[str, Iterable[Mapping]],
    new_stats: Mapping[str, SplitStats],
    schema: Schema,
    card: Callable[[dict[str, SplitStats]], str],
    append: bool = False,
    overwrite: bool = False,
    on_row: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Add splits (or, with ``append``, rows after a split's rows; with ``overwrite``, a split in
    place of the old one) to an existing repo, streaming: new rows go to new shards, old shards of
    other splits are kept as they are and those of appended splits renamed. ``new_stats`` are
    filled as the rows stream past (:func:`hf_dataset.build.encoded`); ``card`` renders README.md
    from the counts of every split. Returns {split: rows} of the whole repo. All or nothing."""
    repo = Path(repo)
    with _locked(repo), updated_dir(repo) as stage:
        shards = split_shards(stage)
        clash = sorted(set(splits) & set(shards))
        if clash and not (append or overwrite):
            raise FileExistsError(f"{repo} already has split(s) {clash}; pass --overwrite to replace them "
                                  "or --append to add rows to them")
        stats = read_stats(stage)
        if stats is None:
            stats = _scan_stats(shards)
        for split, rows in splits.items():
            kept = shards.get(split, []) if append else []
            for old in set(shards.get(split, [])) - set(kept):
                old.unlink()
            write_split(stage, split, rows, FEATURES, on_row, existing=kept)
            if not kept:
                stats.pop(split, None)
            stats.setdefault(split, SplitStats()).add(new_stats[split])
        stats = {split: s for split, s in stats.items() if s.rows}
        if not stats:
            raise ValueError("no rows in any split; nothing to build")
        write_atomic(stage / ID2LABEL_FILE, json.dumps(schema.id2label, indent=2) + "\n")
        write_atomic(stage / SCHEMA_FILE, json.dumps(schema.to_json(), indent=2) + "\n")
        write_atomic(stage / STATS_FILE, stats_json(stats))
        write_atomic(stage / "README.md", card(stats))
        return {split: s.rows for split, s in stats.items()}
