"""Loading animeparse Datasets repos, from the Hub or a local folder, with one call.

A repo holds ``data/<split>-NNNNN-of-NNNNN.parquet`` shards with an ``image`` column, a
``label`` column (mode-L PNG of class ids, 255 = ignore, None for unlabeled rows) and metadata
columns, plus ``id2label.json`` at its root.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np

from animeparse.labels import Schema
from animeparse.sources import is_local

SPLITS = ("train", "unlabeled", "validation", "test")
ID2LABEL_FILE = "id2label.json"
SCHEMA_FILE = "schema.json"


def load_parsing_dataset(name_or_path: str | Path, **kwargs) -> datasets.DatasetDict:
    """``datasets.load_dataset`` for a Hub id or a local folder in Hub layout."""
    if is_local(name_or_path):
        local = _local_folder(name_or_path)
        kwargs.setdefault("data_files", _local_shards(local))
    return datasets.load_dataset(str(name_or_path), **kwargs)


def _local_folder(path: str | Path) -> Path:
    if not Path(path).is_dir():
        raise FileNotFoundError(f"{path}: no such folder (and not a Hub dataset id)")
    return Path(path)


def _local_shards(folder: Path) -> dict[str, list[str]]:
    """{split: shard paths} of a local repo.

    ``datasets`` keys its cache of a local folder on the dataset card and the file patterns, not on
    the files, so a repo rebuilt in place with the same split sizes would load its old rows. Named
    files make the cache key include their modification times.
    """
    shards: dict[str, list[str]] = {}
    # absolute: datasets resolves relative data_files against the folder itself
    for path in sorted((folder.resolve() / "data").glob("*-of-*.parquet")):
        shards.setdefault(path.name.split("-")[0], []).append(str(path))
    return shards


def _repo_file(name_or_path: str | Path, filename: str, revision: str | None) -> Path | None:
    if is_local(name_or_path):
        local = _local_folder(name_or_path)
        return local / filename if (local / filename).is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(str(name_or_path), filename, repo_type="dataset", revision=revision))
    except EntryNotFoundError:
        return None


def load_dataset_schema(name_or_path: str | Path, revision: str | None = None) -> Schema:
    """The repo's schema: ``schema.json`` (with palette) or else the plain ``id2label.json``."""
    path = _repo_file(name_or_path, SCHEMA_FILE, revision)
    if path is not None:
        return Schema.from_json(json.loads(path.read_text(encoding="utf-8")), source=str(path))
    path = _repo_file(name_or_path, ID2LABEL_FILE, revision)
    if path is None:
        raise FileNotFoundError(f"{name_or_path}: no {SCHEMA_FILE} or {ID2LABEL_FILE}; is this an animeparse Datasets repo?")
    return Schema.from_id2label(json.loads(path.read_text(encoding="utf-8")), name=Path(str(name_or_path)).name)


def split_labeled(
    train: datasets.Dataset, fraction: float, seed: int = 0
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Keep labels on a deterministic ``fraction`` of ``train``; the rest becomes unlabeled.

    The usual semi-supervised protocol (1/8, 1/4, ... of the labels) as a view of one dataset:
    the same seed and fraction always pick the same rows, and a smaller fraction picks a subset
    of the rows a larger one picks, so label budgets are nested.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"labeled fraction must be in (0, 1], got {fraction}")
    order = np.random.default_rng(seed).permutation(len(train))
    n_labeled = max(1, round(fraction * len(train)))
    labeled = train.select(np.sort(order[:n_labeled]))
    unlabeled = train.select(np.sort(order[n_labeled:]))
    if "label" in unlabeled.column_names:
        unlabeled = unlabeled.remove_columns("label")
    return labeled, unlabeled
