"""The procedural renderer: determinism, labels that match what is drawn, styles, coverage,
difficulty tags, the contact sheet and the `build.py synth` source."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from animeparse.labels import SCHEMA_16
from animeparse.synth import DIFFICULTIES, OCCLUDERS, STYLES, render
from animeparse.synth.batch import RenderPool, split_seeds
from animeparse.synth.contact_sheet import main as contact_sheet_main
from animeparse.synth.scene import SIMPLE_BACKGROUNDS, Stats, grade

REPO = Path(__file__).resolve().parents[1]
SIZE = 96  # small pictures keep the suite fast; every shape still has a few pixels


def arrays(sample):
    return np.asarray(sample.image), np.asarray(sample.label)


def test_same_seed_gives_identical_bytes_and_other_seeds_differ():
    a, b = render(11, SIZE), render(11, SIZE)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.label.tobytes() == b.label.tobytes()
    assert (a.difficulty, a.style, a.num_characters) == (b.difficulty, b.style, b.num_characters)
    others = [render(s, SIZE) for s in (12, 13)]
    assert all(o.image.tobytes() != a.image.tobytes() for o in others)
    assert all(o.label.tobytes() != a.label.tobytes() for o in others)


def test_output_does_not_depend_on_the_number_of_processes():
    seeds = [3, 4, 5, 6]
    with RenderPool(2) as pool:
        parallel = [s.image.tobytes() + s.label.tobytes() for s in pool.samples(seeds, 64)]
    assert parallel == [render(s, 64).image.tobytes() + render(s, 64).label.tobytes() for s in seeds]


def test_sample_fields():
    s = render(0, SIZE)
    assert s.image.mode == "RGB" and s.label.mode == "L"
    assert s.image.size == s.label.size == (SIZE, SIZE)
    assert s.difficulty in DIFFICULTIES and s.style in STYLES and 1 <= s.num_characters <= 5
    assert np.asarray(s.label).max() < SCHEMA_16.num_classes


@pytest.mark.parametrize("style", ["color", "lineart"])
def test_labels_sit_exactly_on_what_is_drawn(style):
    """Drawn pixels do not depend on the background; the rest shows it. So with two different plain
    backgrounds, the pixels that change are exactly the unlabeled ones."""
    for seed in range(4):
        clean = dict(style=style, occluders=False, effects=False)
        white = render(seed, SIZE, background="white", **clean)
        solid = render(seed, SIZE, background="solid", **clean)
        (img_w, lab_w), (img_s, lab_s) = arrays(white), arrays(solid)
        assert np.array_equal(lab_w, lab_s)
        changed = np.any(img_w != img_s, axis=2)
        assert np.array_equal(changed, lab_w == 0), f"seed {seed}: labeled pixels differ from drawn ones"
        assert (lab_w > 0).mean() > 0.02  # there is a character to check


def test_occluders_are_background():
    kinds = ("petals", "sparkles", "text", "branch", "snow", "frame", "bubble")
    covered = 0
    for seed in range(4):
        clean = dict(style="color", background="white", effects=False, num_characters=2)
        plain = render(seed, SIZE, occluders=False, **clean)
        occluded = render(seed, SIZE, occluders=kinds, **clean)
        (img_p, lab_p), (img_o, lab_o) = arrays(plain), arrays(occluded)
        drawn_over = np.any(img_p != img_o, axis=2)
        assert np.all(lab_o[drawn_over] == 0)
        # Elsewhere labels are unchanged, but for occluder pixels that happen to match the color below.
        assert np.all((lab_o == lab_p) | (lab_o == 0))
        covered += int(np.count_nonzero(lab_p[drawn_over]))
    assert covered > 0  # the occluders did hide parts of characters


def test_every_style_renders_as_named():
    for style in STYLES:
        for seed in range(3):
            s = render(seed, SIZE, style=style, effects=False, occluders=False)
            img, lab = arrays(s)
            assert s.style == style and (lab > 0).any()
            gray = np.all(img[..., :1] == img, axis=2)
            if style == "manga":  # black, white and screentone only
                assert gray.all()
            elif style == "lineart":  # dark lines on light paper, nothing filled with color
                chroma = img.max(axis=2).astype(int) - img.min(axis=2)
                assert np.median(img) > 200 and chroma[lab > 0].mean() < 25
            else:
                assert not gray.all()


def test_class_and_tag_coverage():
    """Over 150 pictures every class shows up in a fair share of images (the 1,000-image check in
    bench/synth_coverage.py asks for 5%; 2% here allows for the smaller sample), and every style
    and difficulty occurs."""
    n = 150
    present = np.zeros(SCHEMA_16.num_classes)
    tags = Counter()
    for seed in range(n):
        s = render(seed, 64)
        present += np.bincount(np.asarray(s.label).ravel(), minlength=SCHEMA_16.num_classes) > 0
        tags[s.style] += 1
        tags[s.difficulty] += 1
    share = dict(zip(SCHEMA_16.names, present / n))
    assert all(v >= 0.02 for v in share.values()), share
    assert all(tags[t] >= 0.03 * n for t in STYLES + DIFFICULTIES), tags


def test_difficulty_rules():
    base = Stats(num_characters=1, min_head=0.2, min_visible=1.0, busy_background=False, strong_light=False, sketch=False)
    assert grade(base) == "easy"
    assert grade(Stats(**{**base.__dict__, "num_characters": 2})) == "medium"
    assert grade(Stats(**{**base.__dict__, "busy_background": True})) == "medium"
    assert grade(Stats(**{**base.__dict__, "min_visible": 0.8})) == "medium"
    for hard in ({"sketch": True}, {"num_characters": 4}, {"min_head": 0.03}, {"min_visible": 0.4}, {"strong_light": True}):
        assert grade(Stats(**{**base.__dict__, **hard})) == "hard", hard


def test_forced_difficulty_and_tags_agree():
    for seed in range(4):
        easy = render(seed, SIZE, difficulty="easy")
        assert easy.difficulty == "easy" and easy.num_characters == 1 and easy.style != "lineart"
        assert easy.tags["background"] in SIMPLE_BACKGROUNDS and not easy.tags["occluders"]
        assert render(seed, SIZE, difficulty="hard").difficulty == "hard"
        assert render(seed, SIZE, difficulty="medium").difficulty == "medium"
        assert render(seed, SIZE, style="lineart").difficulty == "hard"  # sketches are hard
        crowd = render(seed, SIZE, num_characters=4)
        assert crowd.num_characters == 4 and crowd.difficulty == "hard"


def test_bad_controls_are_refused_with_the_name():
    with pytest.raises(TypeError, match="colour"):
        render(0, SIZE, colour="red")
    with pytest.raises(ValueError, match="style='oil'"):
        render(0, SIZE, style="oil")
    with pytest.raises(ValueError, match="num_characters=9"):
        render(0, SIZE, num_characters=9)
    with pytest.raises(ValueError, match="occluders"):
        render(0, SIZE, occluders=("clouds",))
    with pytest.raises(ValueError, match="easy"):
        render(0, SIZE, difficulty="easy", num_characters=3)
    with pytest.raises(ValueError, match="size"):
        render(0, 10)
    with pytest.raises(ValueError, match="seed"):
        render(-1, SIZE)


def test_split_seeds_never_overlap():
    seeds = [set(split_seeds(build, split, 1000)) for build in (0, 1) for split in range(4)]
    assert sum(map(len, seeds)) == len(set().union(*seeds))


def test_contact_sheet(tmp_path):
    out = tmp_path / "sheet.png"
    assert contact_sheet_main(["--num", "3", "--size", "64", "--tile", "48", "--columns", "2", "--workers", "1", "--out", str(out)]) == 0
    sheet = Image.open(out)
    assert sheet.width > 2 * 2 * 48 and sheet.height > 2 * 48


def build_synth(out: Path, *extra: str) -> None:
    cmd = [sys.executable, str(REPO / "hf_dataset/build.py"), "synth", "--out", str(out), "--num-train", "6",
           "--num-unlabeled", "4", "--num-validation", "3", "--num-test", "3", "--size", "64", "--seed", "5", *extra]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)


def test_build_synth_repo_loads_with_datasets(tmp_path):
    build_synth(tmp_path / "one", "--workers", "1")
    ds = datasets.load_dataset(str(tmp_path / "one"))
    assert {k: len(v) for k, v in ds.items()} == {"train": 6, "unlabeled": 4, "validation": 3, "test": 3}
    train = ds["train"]
    assert {"image", "label", "difficulty", "style", "source", "num_characters"} <= set(train.column_names)
    assert set(train["source"]) == {"synth"}
    assert all(d in DIFFICULTIES for d in train["difficulty"]) and all(s in STYLES for s in train["style"])
    assert all(1 <= n <= 5 for n in train["num_characters"])
    assert all(label is None for label in ds["unlabeled"]["label"])
    row = train[0]
    assert row["image"].size == row["label"].size == (64, 64)
    assert np.asarray(row["label"]).max() < SCHEMA_16.num_classes
    # Splits are rendered from their own seeds: no picture appears twice.
    raw = {split: ds[split].cast_column("image", datasets.Image(decode=False))["image"] for split in ds}
    images = [cell["bytes"] for cells in raw.values() for cell in cells]
    assert len(set(images)) == len(images)
    # The same build with two worker processes writes the same pictures.
    build_synth(tmp_path / "two", "--workers", "2")
    two = datasets.load_dataset(str(tmp_path / "two"))["train"].cast_column("image", datasets.Image(decode=False))
    assert [c["bytes"] for c in two["image"]] == [c["bytes"] for c in raw["train"]]


def test_build_synth_rejects_bad_options(tmp_path):
    cmd = [sys.executable, str(REPO / "hf_dataset/build.py"), "synth", "--out", str(tmp_path / "x")]
    for extra, message in ((["--num-train", "-2"], "--num-train -2"), ([], "at least one of"), (["--num-test", "2", "--size", "9"], "--size 9")):
        result = subprocess.run(cmd + extra, capture_output=True, text=True, cwd=REPO)
        assert result.returncode != 0 and message in result.stderr
        assert not (tmp_path / "x").exists()


def test_occluder_kinds_all_render():
    for kind in OCCLUDERS:
        s = render(1, SIZE, occluders=(kind,), background="white", effects=False, style="color")
        assert s.tags["occluders"] == kind
