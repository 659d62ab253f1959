"""hf_dataset.append: rows added to a Datasets repo as a new or small shard, atomically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
from huggingface_hub import DatasetCard

from animeparse.data import load_dataset_schema, load_parsing_dataset
from animeparse.files import png_bytes
from animeparse.labels import IGNORE_INDEX, SCHEMA_13, SCHEMA_16
from hf_dataset.append import RowExists, append_rows, split_shards
from hf_dataset.build import main as build_main
from hf_dataset.card import read_stats
from hf_dataset.records import label_value, make_row

ROOT = Path(__file__).resolve().parent.parent


def correction(seed: int, h: int = 20, w: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """A picture and a corrected label map with an unlabeled (255) band."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = rng.integers(0, 16, (h, w), dtype=np.uint8)
    label[: h // 3] = IGNORE_INDEX
    return image, label


def row(seed: int, name: str | None = None) -> dict:
    image, label = correction(seed)
    return make_row({"bytes": png_bytes(image), "path": None}, label_value(label), name or f"pic{seed}.png",
                    {"source": "animeparse app"})


def plain_load(repo: Path) -> datasets.DatasetDict:
    """What a user would call: datasets.load_dataset on the folder, no animeparse code."""
    return datasets.load_dataset(str(repo), download_mode="force_redownload")


def card_split_sizes(repo: Path) -> dict[str, int]:
    info = DatasetCard.load(repo / "README.md").data.dataset_info
    return {s["name"]: s["num_examples"] for s in info["splits"]}


def test_first_save_creates_the_repo_and_loads_with_plain_datasets(tmp_path):
    repo = tmp_path / "corrections"
    saved = append_rows(repo, "train", [row(1)], SCHEMA_16)
    assert saved.rows == 1 and saved.replaced == []
    ds = plain_load(repo)
    assert list(ds) == ["train"] and len(ds["train"]) == 1
    image, label = correction(1)
    got = ds["train"][0]
    assert np.array_equal(np.asarray(got["image"]), image)
    assert got["label"].mode == "L" and np.array_equal(np.asarray(got["label"]), label)
    assert got["file_name"] == "pic1.png" and got["source"] == "animeparse app"
    assert load_dataset_schema(repo) == SCHEMA_16
    assert card_split_sizes(repo) == {"train": 1}
    assert sorted(p.name for p in (repo / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".corrections.update")]


def test_saves_append_into_a_small_shard_then_new_shards_renaming_the_others(tmp_path):
    repo = tmp_path / "r"
    append_rows(repo, "train", [row(1)], SCHEMA_16)
    append_rows(repo, "train", [row(2)], SCHEMA_16)  # the last shard is small: it takes the row
    assert [p.name for p in split_shards(repo)["train"]] == ["train-00000-of-00001.parquet"]
    first = (repo / "data/train-00000-of-00001.parquet").stat().st_ino
    append_rows(repo, "train", [row(3)], SCHEMA_16, small_shard_bytes=0)  # a full last shard: a new one
    append_rows(repo, "validation", [row(4)], SCHEMA_16, small_shard_bytes=0)
    assert [p.name for p in split_shards(repo)["train"]] == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    # the old shard was renamed, not rewritten: same file
    assert (repo / "data/train-00000-of-00002.parquet").stat().st_ino == first
    ds = plain_load(repo)
    assert ds["train"]["file_name"] == ["pic1.png", "pic2.png", "pic3.png"]
    assert ds["validation"]["file_name"] == ["pic4.png"]
    assert card_split_sizes(repo) == {"train": 3, "validation": 1}
    assert {k: len(v) for k, v in load_parsing_dataset(repo).items()} == {"train": 3, "validation": 1}
    for i, got in enumerate(ds["train"], start=1):
        assert np.array_equal(np.asarray(got["label"]), correction(i)[1])


def test_a_row_is_never_overwritten_without_asking(tmp_path):
    repo = tmp_path / "r"
    append_rows(repo, "train", [row(1, "same.png")], SCHEMA_16)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in repo.rglob("*"))
    with pytest.raises(RowExists, match="same.png"):
        append_rows(repo, "train", [row(2, "same.png")], SCHEMA_16)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in repo.rglob("*")) == before
    saved = append_rows(repo, "train", [row(2, "same.png")], SCHEMA_16, replace=True)
    assert saved.replaced == ["same.png"] and saved.rows == 1
    ds = plain_load(repo)["train"]
    assert len(ds) == 1 and np.array_equal(np.asarray(ds[0]["label"]), correction(2)[1])
    stats = read_stats(repo)["train"]
    assert stats.rows == 1 and stats.labeled == 1
    assert np.array_equal(stats.pixels, np.bincount(correction(2)[1].ravel(), minlength=256))
    append_rows(repo, "validation", [row(3, "same.png")], SCHEMA_16)  # another split: another row


def test_other_classes_and_non_repos_are_refused(tmp_path):
    repo = tmp_path / "r"
    append_rows(repo, "train", [row(1)], SCHEMA_16)
    with pytest.raises(ValueError, match="differ"):
        append_rows(repo, "train", [row(2)], SCHEMA_13)
    with pytest.raises(ValueError, match="letters"):
        append_rows(repo, "../x", [row(2)], SCHEMA_16)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="not a Datasets repo"):
        append_rows(tmp_path / "plain", "train", [row(2)], SCHEMA_16)


def test_appending_to_a_built_repo_keeps_its_card_and_counts_right(tmp_path):
    """A repo from build.py (here one made before stats.json existed) gets the same card as a rebuild."""
    from PIL import Image

    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    for i in range(3):
        image, label = correction(10 + i)
        Image.fromarray(image).save(tmp_path / "img" / f"b{i}.png")
        Image.fromarray(label).save(tmp_path / "mask" / f"b{i}.png")
    repo = tmp_path / "built"
    assert build_main(["index", "--images", str(tmp_path / "img"), "--masks", str(tmp_path / "mask"), "--out", str(repo),
                       "--license", "cc-by-4.0"]) == 0
    full_stats = read_stats(repo)
    (repo / "stats.json").unlink()
    append_rows(repo, "train", [row(1)], SCHEMA_16)
    card = DatasetCard.load(repo / "README.md")
    assert card.data.license == "cc-by-4.0" and card.data.pretty_name == "built"
    assert card_split_sizes(repo) == {"train": 4}
    labels = [correction(10 + i)[1] for i in range(3)] + [correction(1)[1]]
    pixels = sum(np.bincount(x.ravel(), minlength=256) for x in labels)
    assert np.array_equal(read_stats(repo)["train"].pixels, pixels)
    assert read_stats(repo)["train"].rows == full_stats["train"].rows + 1
    share = 100 * pixels[1] / pixels[:16].sum()
    assert f"| 1 | hair |" in card.text and f"{share:.2f}%" in card.text
    assert len(plain_load(repo)["train"]) == 4


SAVER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_append import row
from animeparse.labels import SCHEMA_16
from hf_dataset.append import append_rows
print("ready", flush=True)
for i in range({start}, {start} + 300):
    append_rows({repo!r}, "train", [row(i)], SCHEMA_16, small_shard_bytes=[0, 1 << 30][i % 2])
"""


def test_killed_saves_leave_the_repo_as_it_was_or_as_it_became(tmp_path):
    """SIGKILL a process that saves in a loop, at many moments: every time, the repo loads whole,
    its card agrees with its shards, and no half-written file is inside it."""
    repo = tmp_path / "r"
    append_rows(repo, "train", [row(1)], SCHEMA_16)
    seen = set()
    for attempt, delay in enumerate((0.05, 0.15, 0.3, 0.45, 0.6, 0.8)):
        script = SAVER.format(tests=str(Path(__file__).parent), repo=str(repo), start=1000 * (attempt + 1))
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        names = load_parsing_dataset(repo)["train"]["file_name"]
        assert len(set(names)) == len(names)
        assert card_split_sizes(repo) == {"train": len(names)} == {"train": read_stats(repo)["train"].rows}
        assert not [p for p in repo.rglob("*") if p.name.startswith(".")], "half-written file inside the repo"
        seen.add(len(names))
    # the next save removes what a killed one left beside the repo
    append_rows(repo, "train", [row(999)], SCHEMA_16)
    assert not [p for p in tmp_path.iterdir() if ".update-" in p.name]
    assert len(seen) > 1, "the saver never got to save: the test proves nothing"
