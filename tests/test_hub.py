"""The Hub round trip: real huggingface_hub, datasets and transformers clients against the local Hub double."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
from PIL import Image
from transformers import pipeline

from animeparse.data import load_dataset_schema, load_parsing_dataset
from animeparse.labels import SCHEMA_16
from animeparse.model import make_processor
from conftest import tiny_model

ROOT = Path(__file__).resolve().parents[1]


def make_inputs(folder: Path, n: int = 3) -> tuple[Path, Path]:
    """Images plus index masks, sizes differing per image so rows cannot be confused."""
    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        h, w = 24 + 4 * i, 32
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(images / f"img{i}.png")
        Image.fromarray(rng.integers(0, SCHEMA_16.num_classes, (h, w), dtype=np.uint8)).save(masks / f"img{i}.png")
    return images, masks


def build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "hf_dataset" / "build.py"), *args], capture_output=True, text=True, cwd=ROOT
    )


def same_rows(a: datasets.Dataset, b: datasets.Dataset) -> bool:
    if a.column_names != b.column_names or len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b):
        for key in a.column_names:
            va, vb = row_a[key], row_b[key]
            if isinstance(va, Image.Image) or isinstance(vb, Image.Image):
                if va is None or vb is None or va.mode != vb.mode or not np.array_equal(np.asarray(va), np.asarray(vb)):
                    return False
            elif va != vb:
                return False
    return True


def test_built_dataset_pushes_and_loads_back_equal(hub, tmp_path):
    images, masks = make_inputs(tmp_path / "in")
    out = tmp_path / "parts"
    done = build("index", "--images", str(images), "--masks", str(masks), "--out", str(out), "--push-to-hub", "org/parts")
    assert done.returncode == 0, done.stderr
    assert "private" in done.stdout and hub.token not in done.stdout + done.stderr

    info = HfApi().dataset_info("org/parts")
    assert info.private is True
    local = load_parsing_dataset(out)
    remote = load_parsing_dataset("org/parts")
    assert list(remote) == list(local) == ["train"]
    assert same_rows(local["train"], remote["train"])
    assert load_dataset_schema("org/parts") == SCHEMA_16


def test_private_dataset_needs_the_token(hub, tmp_path, monkeypatch):
    images, masks = make_inputs(tmp_path / "in", n=1)
    done = build("index", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "p"), "--push-to-hub", "org/secret")
    assert done.returncode == 0, done.stderr
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/secret", "README.md", repo_type="dataset")
    assert datasets.load_dataset("org/secret", token=hub.token)["train"].num_rows == 1


def test_public_push_and_repush_replaces_old_shards(hub, tmp_path):
    images, masks = make_inputs(tmp_path / "in")
    out = tmp_path / "parts"
    assert build("index", "--images", str(images), "--masks", str(masks), "--out", str(out), "--split", "validation",
                 "--push-to-hub", "org/pub", "--public").returncode == 0
    assert HfApi().dataset_info("org/pub").private is False
    # Rebuild with the rows in another split: the pushed repo must not keep the stale validation shard.
    assert build("index", "--images", str(images), "--masks", str(masks), "--out", str(out), "--overwrite",
                 "--push-to-hub", "org/pub").returncode == 0
    pushed = hub.files("org/pub", "dataset")
    assert sorted(p for p in pushed if p.startswith("data/")) == ["data/train-00000-of-00001.parquet"]
    assert list(datasets.load_dataset("org/pub")) == ["train"]


def test_push_without_token_fails_clearly(hub, tmp_path, monkeypatch):
    images, masks = make_inputs(tmp_path / "in", n=1)
    monkeypatch.delenv("HF_TOKEN")
    done = build("index", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "p"), "--push-to-hub", "org/x")
    assert done.returncode == 1
    assert "needs a Hugging Face token: set HF_TOKEN" in done.stderr and "Traceback" not in done.stderr
    assert ("dataset", "org/x") not in hub.repos


def test_model_push_then_pipeline_and_snapshot(hub, tmp_path):
    model = tiny_model()
    model.push_to_hub("org/tiny", private=True)
    make_processor(64).push_to_hub("org/tiny")
    files = hub.files("org/tiny")
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= set(files)

    segment = pipeline("image-segmentation", model="org/tiny")
    labels = {r["label"] for r in segment(Image.new("RGB", (64, 64), (200, 120, 80)))}
    assert labels and labels <= set(SCHEMA_16.names)

    folder = Path(snapshot_download("org/tiny"))
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "missing.json")


def test_upload_folder_regular_and_lfs_files_round_trip(hub, tmp_path):
    folder = tmp_path / "up"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("plain text goes as a regular git file\n")
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 64)
    api = HfApi()
    api.create_repo("org/mixed")
    api.upload_folder(repo_id="org/mixed", folder_path=folder)
    stored = hub.repo("org/mixed").commits[-1].tree
    assert stored["notes.txt"].lfs is False and stored["sub/weights.bin"].lfs is True
    assert sorted(api.list_repo_files("org/mixed")) == [".gitattributes", "notes.txt", "sub/weights.bin"]
    head = api.model_info("org/mixed").sha
    # Re-uploading unchanged files makes no new commit, as on the Hub.
    api.upload_folder(repo_id="org/mixed", folder_path=folder)
    assert api.model_info("org/mixed").sha == head
    downloaded = Path(hf_hub_download("org/mixed", "sub/weights.bin"))
    assert downloaded.read_bytes() == (folder / "sub" / "weights.bin").read_bytes()
