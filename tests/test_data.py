"""animeparse.data: the labeled-fraction split and reading a repo's schema."""

from __future__ import annotations

import json

import datasets
import pytest

from animeparse.data import load_dataset_schema, split_labeled
from animeparse.labels import SCHEMA_16, Schema


@pytest.fixture
def train() -> datasets.Dataset:
    return datasets.Dataset.from_dict({"index": list(range(100)), "label": [f"mask{i}" for i in range(100)]})


def indices(ds: datasets.Dataset) -> list[int]:
    return list(ds["index"])


def test_split_is_deterministic_and_covers_train(train):
    labeled, unlabeled = split_labeled(train, 0.25, seed=3)
    again, _ = split_labeled(train, 0.25, seed=3)
    assert indices(labeled) == indices(again)
    assert len(labeled) == 25 and len(unlabeled) == 75
    assert sorted(indices(labeled) + indices(unlabeled)) == list(range(100))
    assert indices(labeled) != indices(split_labeled(train, 0.25, seed=4)[0])
    assert indices(labeled) != list(range(25))  # a random subset, not the first rows


def test_smaller_fractions_are_nested_in_larger_ones(train):
    picked = [set(indices(split_labeled(train, f, seed=0)[0])) for f in (1 / 8, 1 / 4, 1 / 2, 1.0)]
    assert [len(p) for p in picked] == [12, 25, 50, 100]
    assert picked[0] < picked[1] < picked[2] < picked[3]


def test_unlabeled_part_drops_labels(train):
    labeled, unlabeled = split_labeled(train, 0.5)
    assert "label" in labeled.column_names and "label" not in unlabeled.column_names
    assert labeled[0]["label"] == f"mask{labeled[0]['index']}"


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_fraction_must_be_in_range(train, fraction):
    with pytest.raises(ValueError, match="labeled fraction must be in"):
        split_labeled(train, fraction)


def test_schema_from_schema_json_keeps_custom_palette(tmp_path):
    custom = Schema(name="mine", names=("background", "cat_ear", "sword"), palette=((0, 0, 0), (1, 2, 3), (9, 8, 7)))
    (tmp_path / "schema.json").write_text(json.dumps(custom.to_json()))
    (tmp_path / "id2label.json").write_text(json.dumps(custom.id2label))
    schema = load_dataset_schema(tmp_path)
    assert (schema.name, schema.names, schema.palette) == (custom.name, custom.names, custom.palette)


def test_schema_from_id2label_only(tmp_path):
    (tmp_path / "id2label.json").write_text(json.dumps(SCHEMA_16.id2label))
    schema = load_dataset_schema(tmp_path)
    assert schema.names == SCHEMA_16.names and schema.palette == SCHEMA_16.palette


def test_schema_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no schema.json or id2label.json"):
        load_dataset_schema(tmp_path)
