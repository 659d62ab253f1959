import json

import numpy as np
import pytest

from animeparse.labels import (
    IGNORE_INDEX,
    MERGE_16_TO_13,
    SCHEMA_13,
    SCHEMA_16,
    Schema,
    get_schema,
    load_schema,
    remap,
    remap_table,
)


def test_canonical_schema_matches_design():
    assert SCHEMA_16.num_classes == 16 and SCHEMA_13.num_classes == 13
    assert SCHEMA_16.names[:4] == ("background", "hair", "face", "eyes")
    assert SCHEMA_16.label2id["props"] == 15 and SCHEMA_16.id2label[14] == "animal_parts"
    assert SCHEMA_13.names == (
        "background", "hair", "face", "eyes", "mouth", "skin", "top",
        "bottom", "legwear", "headwear", "accessories", "animal_parts", "props",
    )
    assert len(set(SCHEMA_16.palette)) == 16


def test_merge_16_to_13():
    ids16 = np.array([[0, 4, 3, 7], [8, 6, 15, IGNORE_INDEX]], np.uint8)
    merged = remap(ids16, MERGE_16_TO_13)
    assert merged.tolist() == [[0, 3, 3, 5], [5, 5, 12, IGNORE_INDEX]]
    # Each merged class keeps the color of its first member.
    assert SCHEMA_13.palette[SCHEMA_13.label2id["skin"]] == SCHEMA_16.palette[SCHEMA_16.label2id["skin"]]


def test_colorize_uses_palette_and_marks_ignore():
    rgb = SCHEMA_16.colorize(np.array([[1, IGNORE_INDEX]], np.uint8))
    assert tuple(rgb[0, 0]) == SCHEMA_16.palette[1]
    assert tuple(rgb[0, 1]) == (255, 255, 255)


def test_user_schema_from_json(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "classes": [
        {"name": "background", "color": "#000000"},
        {"name": "hair", "color": [10, 20, 30]},
        {"name": "wings"},
    ]}))
    schema = get_schema(str(path))
    assert schema.names == ("background", "hair", "wings")
    assert schema.palette[1] == (10, 20, 30)
    table = remap_table(SCHEMA_16, schema)  # identity by name; classes it lacks are ignored
    assert remap(np.array([0, 1, 2]), table).tolist() == [0, 1, IGNORE_INDEX]


@pytest.mark.parametrize("bad, message", [
    ({"classes": [{"name": "a", "color": [0, 0, 0]}, {"name": "a", "color": [1, 1, 1]}]}, "duplicate class names"),
    ({"classes": [{"name": "a", "color": [0, 0, 0]}, {"name": "b", "color": [0, 0, 0]}]}, "share a color"),
    ({"classes": [{"name": "a", "color": [0, 0, 300]}]}, "color must be"),
    ({"labels": []}, "needs 'classes'"),
])
def test_bad_schema_files_say_what_is_wrong(tmp_path, bad, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=message):
        load_schema(path)


def test_schema_round_trips_through_json_and_id2label():
    assert Schema.from_json(SCHEMA_16.to_json()) == SCHEMA_16
    assert Schema.from_id2label({str(k): v for k, v in SCHEMA_13.id2label.items()}).palette == SCHEMA_13.palette
