"""The Live2D source: real art drawn deterministically, labels only where something is drawn,
every drawable mapped, clear errors for bad models, and a Datasets repo built from it.

One small sample model (epsilon2_1, about 0.6 MB) is installed from npm into the package cache
(`.ci/run` installs it first; the fixture installs it when missing)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from animeparse.labels import SCHEMA_16
from animeparse.live2d.characters import Character, Live2DError, ClassTable, available_models, install
from animeparse.live2d.raster import LABEL_ALPHA, draw_meshes, mip_chain
from animeparse.live2d.rig import Rig
from animeparse.live2d.scene import frame_window, pose, render
from hf_dataset import build

MODEL = "epsilon2_1"


@pytest.fixture(scope="module")
def cache() -> Path:
    return install([MODEL])


@pytest.fixture(scope="module")
def character(cache) -> Character:
    return Character(MODEL, cache)


def model_json(cache: Path) -> Path:
    table = ClassTable.load(MODEL)
    return cache / "node_modules" / table.package / table.model_json


def test_every_mapping_table_names_known_classes():
    models = available_models()
    assert {"shizuku", "haru01", "haru02", "hibiki", "izumi", "koharu", "haruto", "chitose", "epsilon2_1", "tsumiki", "nico", "nipsilon"} <= set(models)
    assert "miku" not in models  # excluded by Live2D's terms
    figures = {ClassTable.load(m).figure for m in models}
    assert figures == {"adult", "chibi"}
    for m in models:
        table = ClassTable.load(m)
        for word in (*table.parts.values(), *table.drawables.values()):
            assert word in SCHEMA_16.names or word in ("ignore", "over", "hidden"), (m, word)


def test_every_drawable_of_the_model_is_mapped(character):
    words = {character.table.entry(d, p) for d, p in character.rig.drawable_ids()}
    assert {"hair", "face", "eyes", "eyebrows", "mouth", "skin", "arms", "legs", "top", "bottom"} <= words


def test_installing_a_model_keeps_the_models_installed(cache, tmp_path):
    """npm removes the packages an install does not name: installing a second model into a cache
    must leave the first one there (it deleted every other character)."""
    copy = tmp_path / "cache"
    package = ClassTable.load(MODEL).package
    shutil.copytree(cache / "node_modules" / package, copy / "node_modules" / package)
    install(["haruto"], copy)  # about 0.5 MB from npm
    for model in (MODEL, "haruto"):
        assert (copy / "node_modules" / ClassTable.load(model).package / "package.json").is_file(), model


def test_render_is_deterministic_and_seeds_differ(cache):
    a = render(3, 128, (MODEL,), str(cache))
    b = render(3, 128, (MODEL,), str(cache))
    c = render(4, 128, (MODEL,), str(cache))
    assert a.image.tobytes() == b.image.tobytes() and a.label.tobytes() == b.label.tobytes()
    assert a.tags == b.tags and a.difficulty == b.difficulty
    assert a.image.tobytes() != c.image.tobytes()
    assert a.image.size == a.label.size == (128, 128)
    assert a.tags["character"].split(",")[0] == "epsilon"


def test_labels_only_where_the_character_is_drawn(character, cache):
    rng = np.random.default_rng(0)
    pose(character, rng)
    meshes = character.drawn(character.rig.meshes())
    window, _ = frame_window(character, meshes, "bust")
    size = 256
    scale = size / (window[3] - window[1])
    to_pic = np.array([[scale, 0, -scale * window[0]], [0, scale, -scale * window[1]]], np.float32)
    layer = draw_meshes(meshes, [mip_chain(t) for t in character.rig.textures], to_pic, (size, size), character.label_of)
    labeled = layer.label >= 0
    assert labeled.mean() > 0.2  # a bust fills much of the frame
    assert (layer.alpha[labeled] >= LABEL_ALPHA - 1e-6).all()
    assert not labeled[layer.alpha < 0.02].any()
    present = {SCHEMA_16.names[c] for c in np.unique(layer.label[labeled])}
    assert {"hair", "face", "eyes", "mouth", "top"} <= present


def test_scene_labels_background_outside_characters(cache):
    sample = render(11, 160, (MODEL,), str(cache), style="color", background="white", num_characters=1)
    label = np.asarray(sample.label)
    image = np.asarray(sample.image).astype(int)
    assert set(np.unique(label)) - {0, 255} <= set(range(16))
    assert (label == 0).mean() > 0.3 and (label > 0).mean() > 0.05
    # far from any character the picture is the white background, barring effects' noise
    far = (label == 0) & (np.abs(image - 255).max(axis=2) > 60)
    assert far.mean() < 0.05


def test_pose_moves_the_meshes(character):
    pose(character, np.random.default_rng(1))
    first = {m.id: m.points.copy() for m in character.rig.meshes()}
    pose(character, np.random.default_rng(2))
    second = {m.id: m.points for m in character.rig.meshes()}
    moved = [k for k in first.keys() & second.keys() if not np.allclose(first[k], second[k])]
    assert len(moved) > len(first) // 2


def test_bad_model_path_names_the_file(tmp_path):
    missing = tmp_path / "nobody.model.json"
    with pytest.raises(Live2DError, match="nobody.model.json"):
        Rig(missing)


def test_missing_texture_names_the_texture(cache, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(model_json(cache).parent, package)
    setting = json.loads((package / model_json(cache).name).read_text(encoding="utf-8-sig"))
    texture = package / setting["textures"][0]
    texture.unlink()
    with pytest.raises(Live2DError, match=texture.name):
        Rig(package / model_json(cache).name)


def test_missing_expression_is_skipped_with_a_message(cache, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(model_json(cache).parent, package)
    setting = json.loads((package / model_json(cache).name).read_text(encoding="utf-8-sig"))
    gone = setting["expressions"][0]["file"]
    (package / gone).unlink()
    with pytest.warns(UserWarning, match=f"{gone}.*missing"):
        rig = Rig(package / model_json(cache).name)
    assert len(rig.expressions) == len(setting["expressions"]) - 1


def test_a_pose_alternative_shows_and_hides_its_linked_parts(cache, tmp_path):
    """A pose group picks one alternative; the parts its "link" names go with it (nico's and
    nipsilon's arm sets are linked parts: without the links both sets were drawn at once)."""
    package = tmp_path / "pkg"
    shutil.copytree(model_json(cache).parent, package)
    setting = json.loads((package / model_json(cache).name).read_text(encoding="utf-8-sig"))
    group = [{"id": "PARTS_01_EYE_BALL_001"}, {"id": "PARTS_01_NOSE_001", "link": ["PARTS_01_MOUTH_001"]}]
    (package / "test.pose.json").write_text(json.dumps({"type": "Live2D Pose", "parts_visible": [{"group": group}]}))
    (package / model_json(cache).name).write_text(json.dumps({**setting, "pose": "test.pose.json"}))
    rig = Rig(package / model_json(cache).name)
    shown = []
    for pick in (0, 1):
        rig.show_pose([pick])
        shown.append({m.part for m in rig.meshes()})
    assert "PARTS_01_EYE_BALL_001" in shown[0] and not {"PARTS_01_NOSE_001", "PARTS_01_MOUTH_001"} & shown[0]
    assert {"PARTS_01_NOSE_001", "PARTS_01_MOUTH_001"} <= shown[1] and "PARTS_01_EYE_BALL_001" not in shown[1]


def test_corrupt_moc_names_the_file(cache, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(model_json(cache).parent, package)
    setting = json.loads((package / model_json(cache).name).read_text(encoding="utf-8-sig"))
    (package / setting["model"]).write_bytes(b"not a moc file at all")
    with pytest.raises(Live2DError, match=Path(setting["model"]).name):
        Rig(package / model_json(cache).name)


def test_unmapped_drawable_names_model_and_id(cache):
    table = ClassTable.load(MODEL)
    without_hair = replace(table, parts={k: v for k, v in table.parts.items() if k != "PARTS_01_HAIR_BACK_001"})
    with pytest.raises(Live2DError, match=r"epsilon2_1.*D_PSD\.00.*PARTS_01_HAIR_BACK_001"):
        Character(without_hair, cache)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(Live2DError, match="known models: .*shizuku"):
        ClassTable.load("miku")


def test_build_live2d_repo(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEPARSE_LIVE2D_CACHE", str(cache))
    out = tmp_path / "live2d_parts"
    code = build.main(["live2d", "--out", str(out), "--num-train", "3", "--num-unlabeled", "2", "--size", "96",
                       "--workers", "1", "--train-models", MODEL])
    assert code == 0
    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"train", "unlabeled"}
    assert set(ds["train"]["source"]) == {"live2d"}
    assert all(c.split(",")[0] == "epsilon" for c in ds["train"]["character"])
    assert ds["unlabeled"]["label"] == [None, None]
    label = np.asarray(ds["train"][0]["label"])
    assert label.shape == (96, 96) and set(np.unique(label)) <= set(range(16)) | {255}
    card = (out / "README.md").read_text()
    assert "Free Material License" in card and "epsilon (epsilon2_1)" in card
    again = tmp_path / "again"
    assert build.main(["live2d", "--out", str(again), "--num-train", "3", "--size", "96", "--workers", "1",
                       "--train-models", MODEL]) == 0
    assert [np.asarray(r["image"]).tobytes() for r in datasets.load_dataset(str(again))["train"]] == \
           [np.asarray(r["image"]).tobytes() for r in ds["train"]]


def test_build_refuses_a_character_both_trained_and_held_out(capsys):
    with pytest.raises(SystemExit):
        build.parse_args(["live2d", "--out", "/tmp/never-written", "--num-test", "2",
                          "--train-models", MODEL, "--heldout-models", MODEL])
    assert "both held out and in training" in capsys.readouterr().err


def test_build_photos_is_a_folder_or_a_collection(capsys):
    with pytest.raises(SystemExit):
        build.parse_args(["live2d", "--out", "/tmp/never-written", "--num-test", "2", "--photos", "/no/such/folder"])
    assert "--photos /no/such/folder: not a folder (or one of debian, games, debian-v1)" in capsys.readouterr().err
    assert build.parse_args(["live2d", "--out", "/tmp/never-written", "--num-test", "2", "--photos", "debian-v1"]).photos == "debian-v1"


def test_wallpaper_files_keep_each_wallpaper_once(tmp_path):
    """KDE ships a wallpaper in several sizes (NAME/contents/images/WxH.ext) beside a preview:
    the largest size only, no preview; other pictures as they are."""
    from animeparse.live2d.backgrounds import wallpaper_files

    kde = tmp_path / "usr/share/wallpapers/Path/contents"
    (kde / "images").mkdir(parents=True)
    for name in ("1920x1080.jpg", "5120x2880.jpg", "1080x1920.jpg"):
        Image.new("RGB", (8, 8)).save(kde / "images" / name)
    Image.new("RGB", (8, 8)).save(kde / "screenshot.jpg")
    other = tmp_path / "usr/share/backgrounds/mate/nature"
    other.mkdir(parents=True)
    for name in ("Elephants.jpg", "Wood_1920x1080.jpg"):
        Image.new("RGB", (8, 8)).save(other / name)
    (other / "notes.txt").write_text("not a picture")
    names = [p.relative_to(tmp_path).as_posix() for p in wallpaper_files(tmp_path)]
    assert names == ["usr/share/backgrounds/mate/nature/Elephants.jpg", "usr/share/backgrounds/mate/nature/Wood_1920x1080.jpg",
                     "usr/share/wallpapers/Path/contents/images/5120x2880.jpg"]


def test_game_scenery_is_taken_from_where_the_package_keeps_it(tmp_path):
    """A game ships sprites and menus beside its scenery: only pictures under the package's
    pattern count, less the skipped ones, and a see-through layer is no background."""
    from animeparse.live2d.backgrounds import COLLECTIONS, Package, _store, wallpaper_files

    scenery = tmp_path / "usr/share/games/demo/images/background"
    for folder in ("forest", "misc"):
        (scenery / folder).mkdir(parents=True)
        Image.new("RGB", (500, 400), "green").save(scenery / folder / "sky.png")
    layer = Image.new("RGBA", (500, 400), (0, 0, 0, 0))
    layer.paste((30, 90, 30, 255), (0, 300, 500, 400))  # the trees of a parallax foreground
    layer.save(scenery / "forest" / "trees.png")
    (tmp_path / "usr/share/games/demo/images/sprites").mkdir(parents=True)
    Image.new("RGB", (500, 400), "red").save(tmp_path / "usr/share/games/demo/images/sprites/hero.png")
    package = Package("GPL-2+", "usr/share/games/demo/images/background/*/*", skip=("*/misc/*",))
    found = [p.relative_to(scenery).as_posix() for p in wallpaper_files(tmp_path, package)]
    assert found == ["forest/sky.png", "forest/trees.png"]
    out = tmp_path / "stored"
    out.mkdir()
    for i, src in enumerate(wallpaper_files(tmp_path, package)):
        _store(src, out / f"{i}.jpg")
    assert sorted(p.name for p in out.iterdir()) == ["0.jpg"]
    # the first fetch kept such layers, flattened: the collection that rebuilds live2d_parts does too
    _store(scenery / "forest" / "trees.png", out / "kept.jpg", see_through=True)
    assert Image.open(out / "kept.jpg").mode == "RGB"
    assert set(COLLECTIONS) == {"debian", "games", "debian-v1"} and all(p.license for c in COLLECTIONS.values() for p in c.values())
    assert all(p.see_through for p in COLLECTIONS["debian-v1"].values()) and not any(
        p.see_through for name in ("debian", "games") for p in COLLECTIONS[name].values())
