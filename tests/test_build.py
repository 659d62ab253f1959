"""hf_dataset/build.py: every input format builds a repo that loads back equal to its inputs,
and every kind of bad input fails naming the file and the problem, leaving nothing behind."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
from huggingface_hub import DatasetCard
from PIL import Image

from animeparse.data import load_dataset_schema, load_parsing_dataset
from animeparse.images import load_rgb
from animeparse.labels import IGNORE_INDEX, SCHEMA_13, SCHEMA_16
from hf_dataset.build import main

RNG = np.random.default_rng(7)


def random_image(h: int = 24, w: int = 32) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def random_ids(h: int = 24, w: int = 32, num_classes: int = 16, ignore: bool = True) -> np.ndarray:
    ids = RNG.integers(0, num_classes, (h, w), dtype=np.uint8)
    if ignore:
        ids[0, :5] = IGNORE_INDEX
    return ids


def color_dataset(root: Path, n: int = 3, colorize=SCHEMA_16.colorize) -> dict[str, np.ndarray]:
    """Images (PNG, JPEG, RGBA PNG) and color masks; returns {image file name: class ids}."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    truth = {}
    for i in range(n):
        ids = random_ids(24 + i, 32)
        name = ["a.png", "b.jpg", "c.png"][i % 3] if n <= 3 else f"img{i:04d}.png"
        pixels = random_image(24 + i, 32)
        if name.endswith(".jpg"):
            Image.fromarray(pixels).save(root / "images" / name, quality=90)
        elif name == "c.png":
            alpha = RNG.integers(0, 256, pixels.shape[:2], dtype=np.uint8)
            Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(root / "images" / name)
        else:
            Image.fromarray(pixels).save(root / "images" / name)
        Image.fromarray(colorize(ids)).save(root / "masks" / f"{Path(name).stem}.png")
        truth[name] = ids
    return truth


def run(*args) -> int:
    return main([str(a) for a in args])


def rows_by_name(repo: Path, split: str = "train") -> dict[str, dict]:
    ds = load_parsing_dataset(repo)[split]
    return {row["file_name"]: row for row in ds}


def assert_loads_like_inputs(repo: Path, images: Path, truth: dict[str, np.ndarray], split: str = "train") -> None:
    rows = rows_by_name(repo, split)
    assert sorted(rows) == sorted(truth)
    for name, ids in truth.items():
        row = rows[name]
        assert row["image"].mode == "RGB"
        assert np.array_equal(np.asarray(row["image"]), np.asarray(load_rgb(images / name))), name
        assert row["label"].mode == "L"
        assert np.array_equal(np.asarray(row["label"]), ids), name


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temporary folder left behind"


# ---------------------------------------------------------------- each format loads back equal


def test_color_masks_with_schema_palette(tmp_path, capsys):
    truth = color_dataset(tmp_path / "in")
    out = tmp_path / "repo"
    assert run("color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", out) == 0
    assert "train 3 rows" in capsys.readouterr().out
    assert_loads_like_inputs(out, tmp_path / "in/images", truth)
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert json.loads((out / "id2label.json").read_text()) == {str(i): n for i, n in enumerate(SCHEMA_16.names)}
    assert load_dataset_schema(out) == SCHEMA_16


def test_plain_png_is_stored_without_reencoding_and_rgba_over_white(tmp_path):
    color_dataset(tmp_path / "in")
    out = tmp_path / "repo"
    run("color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", out)
    raw = load_parsing_dataset(out)["train"].cast_column("image", datasets.Image(decode=False))
    stored = {row["file_name"]: row["image"]["bytes"] for row in raw}
    assert stored["a.png"] == (tmp_path / "in/images/a.png").read_bytes()
    assert stored["b.jpg"] == (tmp_path / "in/images/b.jpg").read_bytes()
    assert stored["c.png"] != (tmp_path / "in/images/c.png").read_bytes()  # RGBA: flattened, re-encoded
    rgba = np.asarray(Image.open(tmp_path / "in/images/c.png"), dtype=np.float64)
    over_white = rgba[..., :3] * rgba[..., 3:] / 255 + 255 * (1 - rgba[..., 3:] / 255)
    stored_c = np.asarray(rows_by_name(out)["c.png"]["image"], dtype=np.float64)
    assert np.abs(stored_c - over_white).max() <= 1


def test_exif_rotated_image_matches_mask_in_display_orientation(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    stored = random_image(20, 30)  # stored landscape, displayed portrait (rotated 90 degrees clockwise)
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "images/r.jpg", exif=exif.tobytes(), quality=95)
    ids = random_ids(30, 20)
    Image.fromarray(SCHEMA_16.colorize(ids)).save(tmp_path / "masks/r.png")
    out = tmp_path / "repo"
    assert run("color", "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--out", out) == 0
    assert_loads_like_inputs(out, tmp_path / "images", {"r.jpg": ids})
    assert rows_by_name(out)["r.jpg"]["image"].size == (20, 30)


@pytest.mark.parametrize("palette_format", ["json_hex", "json_rgb", "csv_color", "csv_rgb", "schema"])
def test_color_masks_with_palette_files(tmp_path, palette_format):
    colors = {name: tuple(int(v) for v in RNG.integers(0, 250, 3)) for name in SCHEMA_16.names}
    lut = np.tile(np.array([255, 255, 255], np.uint8), (256, 1))
    lut[:16] = [colors[n] for n in SCHEMA_16.names]
    truth = color_dataset(tmp_path / "in", colorize=lambda ids: lut[ids])
    hexes = {n: "#%02x%02x%02x" % c for n, c in colors.items()}
    palette = tmp_path / ("palette.csv" if palette_format.startswith("csv") else "palette.json")
    if palette_format == "json_hex":
        palette.write_text(json.dumps(hexes))
    elif palette_format == "json_rgb":
        palette.write_text(json.dumps({n: list(c) for n, c in colors.items()}))
    elif palette_format == "schema":
        palette.write_text(json.dumps({"name": "mine", "classes": [{"name": n, "color": list(c)} for n, c in colors.items()]}))
    else:
        with palette.open("w", newline="") as f:
            writer = csv.writer(f)
            if palette_format == "csv_color":
                writer.writerows([("name", "color"), *hexes.items()])
            else:
                writer.writerows([("name", "r", "g", "b"), *((n, *c) for n, c in colors.items())])
    out = tmp_path / "repo"
    assert run("color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--palette", palette, "--out", out) == 0
    assert_loads_like_inputs(out, tmp_path / "in/images", truth)


def test_color_masks_with_13_class_schema(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    ids = random_ids(num_classes=13)
    Image.fromarray(random_image()).save(tmp_path / "images/x.png")
    Image.fromarray(SCHEMA_13.colorize(ids)).save(tmp_path / "masks/x.png")
    out = tmp_path / "repo"
    assert run("color", "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--schema", "13", "--out", out) == 0
    assert np.array_equal(np.asarray(rows_by_name(out)["x.png"]["label"]), ids)
    assert load_dataset_schema(out).names == SCHEMA_13.names


def test_index_masks_gray_and_palette_mode(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    truth = {}
    for name, mode in (("gray.png", "L"), ("pal.png", "P")):
        ids = random_ids()
        Image.fromarray(random_image()).save(tmp_path / "images" / name)
        mask = Image.fromarray(ids, "L")
        if mode == "P":  # pixel values are palette indices; the palette colors must not matter
            mask = mask.convert("P")
            mask.putpalette(list(RNG.integers(0, 256, 768, dtype=np.uint8)))
            mask.frombytes(ids.tobytes())
        mask.save(tmp_path / "masks" / name)
        truth[name] = ids
    out = tmp_path / "repo"
    assert run("index", "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--split", "validation", "--out", out) == 0
    assert_loads_like_inputs(out, tmp_path / "images", truth, split="validation")


def labelme_file(folder: Path, name: str, shapes: list[dict], size=(40, 30), embed: bool = False) -> Path:
    pixels = random_image(size[1], size[0])
    image_path = folder / f"{name}.png"
    Image.fromarray(pixels).save(image_path)
    data = {"version": "5.4.1", "shapes": shapes, "imagePath": image_path.name, "imageHeight": size[1], "imageWidth": size[0]}
    if embed:
        data["imageData"] = base64.b64encode(image_path.read_bytes()).decode()
        data["imagePath"] = f"elsewhere/{image_path.name}"
        image_path.rename(folder.parent / image_path.name)  # only the embedded copy remains
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def shape(label: str, points, kind: str = "polygon") -> dict:
    return {"label": label, "points": points, "shape_type": kind, "group_id": None, "flags": {}}


def test_labelme_shapes_are_painted_in_order(tmp_path):
    ann = tmp_path / "ann"
    ann.mkdir()
    hair, face, eyes = (SCHEMA_16.label2id[n] for n in ("hair", "face", "eyes"))
    labelme_file(ann, "one", [
        shape("hair", [[0, 0], [20, 10]], "rectangle"),
        shape("face", [[5, 5], [15, 5], [10, 9]]),                 # triangle, painted over the hair
        shape("eyes", [[30, 20], [33, 20]], "circle"),             # radius 3 around (30, 20)
        shape("__ignore__", [[0, 25], [3, 29]], "rectangle"),
    ])
    labelme_file(ann, "two", [shape("_background_", [[0, 0], [5, 5]], "rectangle")], embed=True)
    out = tmp_path / "repo"
    assert run("labelme", "--annotations", ann, "--out", out) == 0
    rows = rows_by_name(out)
    label = np.asarray(rows["one.png"]["label"])
    assert label.shape == (30, 40)
    assert label[1, 1] == hair and label[9, 19] == hair          # rectangle corners are inside
    assert label[6, 10] == face and label[8, 10] == face          # triangle interior
    assert label[20, 30] == eyes and label[20, 32] == eyes and label[20, 35] == 0
    assert label[27, 1] == IGNORE_INDEX
    assert label[12, 25] == 0                                      # untouched: background
    assert set(np.unique(label)) == {0, hair, face, eyes, IGNORE_INDEX}
    embedded = rows["two.png"]
    assert np.array_equal(np.asarray(embedded["image"]), np.asarray(load_rgb(tmp_path / "two.png")))
    assert not np.asarray(embedded["label"]).any()


def test_unlabeled_images_with_metadata_csv_and_added_splits(tmp_path):
    truth = color_dataset(tmp_path / "in")
    images = tmp_path / "in/images"
    meta = tmp_path / "meta.csv"
    meta.write_text("file_name,difficulty,style,source\na.png,easy,color,artist A\nb.jpg,hard,lineart,\n")
    out = tmp_path / "repo"
    assert run("color", "--images", images, "--masks", tmp_path / "in/masks", "--metadata", meta, "--out", out, "--license", "cc-by-4.0") == 0
    assert run("unlabeled", "--images", images, "--metadata", meta, "--out", out, "--add") == 0
    ds = load_parsing_dataset(out)
    assert sorted(ds) == ["train", "unlabeled"]
    assert_loads_like_inputs(out, images, truth)  # the train split survived the --add
    for split in ("train", "unlabeled"):
        rows = rows_by_name(out, split)
        assert (rows["a.png"]["difficulty"], rows["a.png"]["style"], rows["a.png"]["source"]) == ("easy", "color", "artist A")
        assert (rows["b.jpg"]["difficulty"], rows["b.jpg"]["style"], rows["b.jpg"]["source"]) == ("hard", "lineart", None)
        assert rows["c.png"]["difficulty"] is None
    assert all(row["label"] is None for row in ds["unlabeled"])
    for name in truth:
        assert np.array_equal(np.asarray(rows_by_name(out, "unlabeled")[name]["image"]), np.asarray(load_rgb(images / name)))

    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-4.0"  # kept by --add
    assert {c["split"]: c["path"] for c in card.data.configs[0]["data_files"]} == {"train": "data/train-*", "unlabeled": "data/unlabeled-*"}
    assert {s["name"]: s["num_examples"] for s in card.data.dataset_info["splits"]} == {"train": 3, "unlabeled": 3}
    for i, (name, color) in enumerate(zip(SCHEMA_16.names, SCHEMA_16.palette)):
        assert f"| {i} | {name} |" in card.text and "#%02x%02x%02x" % color in card.text
    shares = [float(line.rsplit("|", 2)[-2].strip(" %")) for line in card.text.splitlines() if line.count("`#") == 1]
    assert len(shares) == 16 and abs(sum(shares) - 100) < 0.1


def test_add_refuses_existing_split_and_other_schema(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    args = ["color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", tmp_path / "repo"]
    assert run(*args) == 0
    before = (tmp_path / "repo/data/train-00000-of-00001.parquet").read_bytes()
    assert run(*args, "--add") == 1
    assert "already has split(s) ['train']" in capsys.readouterr().err
    assert run(*args, "--add", "--schema", "13", "--split", "test") == 1
    assert "differs from --schema 13" in capsys.readouterr().err
    assert (tmp_path / "repo/data/train-00000-of-00001.parquet").read_bytes() == before
    assert run(*args, "--add", "--overwrite") == 0  # replacing one split is explicit
    with pytest.raises(SystemExit):
        run(*args)  # an existing --out needs --add or --overwrite
    assert "already exists" in capsys.readouterr().err


def test_append_adds_rows_to_existing_splits(tmp_path, capsys):
    truth = color_dataset(tmp_path / "in")
    out = tmp_path / "repo"
    assert run("color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", out) == 0
    (tmp_path / "more").mkdir()
    Image.fromarray(random_image(99, 32)).save(tmp_path / "more/extra.png")
    args = ("unlabeled", "--images", tmp_path / "more", "--split", "train", "--out", out, "--add")
    with pytest.raises(SystemExit):
        run(*args[:-1], "--append")  # --append needs --add
    assert "pass --add too" in capsys.readouterr().err
    first = out / "data/train-00000-of-00001.parquet"
    inode = first.stat().st_ino
    assert run(*args, "--append") == 0
    # the old rows were not rewritten: their shard was renamed, and the new row has a shard of its own
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    assert (out / "data/train-00000-of-00002.parquet").stat().st_ino == inode
    assert DatasetCard.load(out / "README.md").data.dataset_info["splits"][0]["num_examples"] == 4
    rows = rows_by_name(out)
    assert sorted(rows) == sorted([*truth, "extra.png"])
    assert rows["extra.png"]["label"] is None
    assert all(np.array_equal(np.asarray(rows[name]["label"]), ids) for name, ids in truth.items())


def test_repo_rebuilt_in_place_loads_its_new_rows(tmp_path):
    out = tmp_path / "repo"
    for seed in (1, 2):  # same sizes, so the same card: only the pixels differ
        folder = tmp_path / f"in{seed}"
        (folder / "images").mkdir(parents=True)
        pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images/x.png")
        assert run("unlabeled", "--images", folder / "images", "--out", out, "--overwrite") == 0
        assert np.array_equal(np.asarray(rows_by_name(out, "unlabeled")["x.png"]["image"]), pixels)


# ---------------------------------------------------------------- bad inputs


def failing_build(capsys, *args) -> str:
    assert run(*args) == 1
    return capsys.readouterr().err


def test_unknown_mask_colors_are_listed_with_pixel_counts(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    mask_path = tmp_path / "in/masks/a.png"
    mask = np.asarray(Image.open(mask_path)).copy()
    mask[:2, :] = (1, 2, 3)
    mask[5, :3] = (250, 0, 250)
    Image.fromarray(mask).save(mask_path)
    out = tmp_path / "repo"
    err = failing_build(capsys, "color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", out)
    assert str(mask_path) in err
    assert "#010203 (1, 2, 3) (64 px)" in err and "#fa00fa (250, 0, 250) (3 px)" in err
    assert_nothing_written(out)


def test_every_bad_file_is_reported_in_one_run(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    images, masks = tmp_path / "in/images", tmp_path / "in/masks"
    Image.fromarray(SCHEMA_16.colorize(random_ids(10, 10))).save(masks / "a.png")  # size mismatch
    data = (images / "c.png").read_bytes()
    (images / "c.png").write_bytes(data[: len(data) // 2])  # truncated
    out = tmp_path / "repo"
    err = failing_build(capsys, "color", "--images", images, "--masks", masks, "--out", out)
    assert "2 bad input(s)" in err
    assert f"{masks / 'a.png'}: mask is 10x10 but image a.png is 32x24" in err
    assert f"{images / 'c.png'}" in err and "truncated" in err
    assert_nothing_written(out)


def test_missing_and_orphan_masks(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    masks = tmp_path / "in/masks"
    (masks / "b.png").rename(masks / "zzz.png")
    out = tmp_path / "repo"
    err = failing_build(capsys, "color", "--images", tmp_path / "in/images", "--masks", masks, "--out", out)
    assert f"{tmp_path / 'in/images/b.jpg'}: missing mask" in err
    assert f"{masks / 'zzz.png'}: mask has no image" in err
    assert_nothing_written(out)


def test_non_image_file_is_named(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    Image.fromarray(random_image()).save(tmp_path / "images/ok.png")
    (tmp_path / "images/notes.png").write_text("this is not a picture")
    out = tmp_path / "repo"
    err = failing_build(capsys, "unlabeled", "--images", tmp_path / "images", "--out", out)
    assert f"{tmp_path / 'images/notes.png'}: not an image file" in err
    assert_nothing_written(out)


def test_index_mask_values_outside_the_schema(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(random_image()).save(tmp_path / "images/x.png")
    ids = random_ids()
    ids[3, :7] = 40
    Image.fromarray(ids).save(tmp_path / "masks/x.png")
    Image.fromarray(random_image()).save(tmp_path / "images/y.png")
    Image.fromarray(random_image()).save(tmp_path / "masks/y.png")  # an RGB picture is no index mask
    err = failing_build(capsys, "index", "--images", tmp_path / "images", "--masks", tmp_path / "masks", "--out", tmp_path / "r")
    assert f"{tmp_path / 'masks/x.png'}: values that are not class ids" in err and "40 (7 px)" in err
    assert f"{tmp_path / 'masks/y.png'}: index mask has RGB pixels" in err


def test_labelme_label_not_in_schema_and_size_mismatch(tmp_path, capsys):
    ann = tmp_path / "ann"
    ann.mkdir()
    bad_label = labelme_file(ann, "one", [shape("hair", [[0, 0], [5, 5]], "rectangle"), shape("tail", [[1, 1], [4, 1], [2, 3]])])
    wrong_size = labelme_file(ann, "two", [])
    data = json.loads(wrong_size.read_text())
    data["imageWidth"] = 99
    wrong_size.write_text(json.dumps(data))
    out = tmp_path / "repo"
    err = failing_build(capsys, "labelme", "--annotations", ann, "--out", out)
    assert f"{bad_label}: shape 1: label 'tail' is not in schema 'anime-16'" in err
    assert f"{wrong_size}: annotation is for a 99x30 image but the image is 40x30" in err
    assert_nothing_written(out)


def test_bad_metadata_csv(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    meta = tmp_path / "meta.csv"
    args = ["color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", tmp_path / "r", "--metadata", meta]
    meta.write_text("file_name,difficulty\na.png,impossible\n")
    assert "line 2: difficulty 'impossible' for 'a.png'; allowed: easy, medium, hard" in failing_build(capsys, *args)
    meta.write_text("file_name,mood\na.png,happy\n")
    assert "unknown columns ['mood']" in failing_build(capsys, *args)
    meta.write_text("name,difficulty\n")
    assert "needs a 'file_name' column" in failing_build(capsys, *args)
    assert_nothing_written(tmp_path / "r")


def test_bad_palette_files(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    palette = tmp_path / "palette.json"
    args = ["color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", tmp_path / "r", "--palette", palette]
    palette.write_text(json.dumps({"hair": [1, 2, 3], "tail": [4, 5, 6]}))
    assert "classes ['tail'] are not in schema 'anime-16'" in failing_build(capsys, *args)
    palette.write_text(json.dumps({"hair": [1, 2, 3], "face": [1, 2, 3]}))
    assert "share a color" in failing_build(capsys, *args)
    palette.write_text(json.dumps({"hair": [1, 2, 300]}))
    assert "0..255" in failing_build(capsys, *args)


def test_failed_overwrite_keeps_the_previous_repo(tmp_path, capsys):
    color_dataset(tmp_path / "in")
    out = tmp_path / "repo"
    args = ["color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", out]
    assert run(*args) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (tmp_path / "in/masks/b.png").unlink()
    assert "missing mask" in failing_build(capsys, *args, "--overwrite")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".repo.")]


def test_bad_command_line_values(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run("unlabeled", "--images", tmp_path, "--out", tmp_path / "r", "--split", "train-2")
    assert "letters, digits and underscores" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("unlabeled", "--images", tmp_path, "--out", tmp_path / "r", "--push-to-hub", "no-namespace")
    assert "expected ORG/NAME" in capsys.readouterr().err


def test_repo_loads_by_a_relative_path(tmp_path, monkeypatch):
    """`--dataset data/parts` as a user types it, from the folder above the repo."""
    truth = color_dataset(tmp_path / "in")
    assert run("color", "--images", tmp_path / "in/images", "--masks", tmp_path / "in/masks", "--out", tmp_path / "data/parts") == 0
    monkeypatch.chdir(tmp_path)
    assert len(load_parsing_dataset("data/parts")["train"]) == len(truth)
    assert load_dataset_schema("data/parts") == SCHEMA_16
