"""The Gradio app, launched on 127.0.0.1 with two tiny models: driven in a real browser (Debian's
chromium through playwright) and through its API with gradio_client; bad inputs of every kind."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import count_forwards, free_port
from gradio_client import Client, handle_file
from PIL import Image

from animeparse.images import MAX_PIXELS, fit_within, frame_window, pad_to_frame
from animeparse.labels import SCHEMA_13, SCHEMA_16
from animeparse.model import input_size
from animeparse.branches import ENSEMBLE
from animeparse.drawing import color_map, overlay
from animeparse.inference import FlipAveraged, load_branches, predict, rank_by_disagreement

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def label_queue(folder: Path) -> Path:
    """A folder of unlabeled images for the 'next to label' list, and one broken file."""
    for seed in range(3):
        Image.fromarray(random_rgb(48, 40 + 8 * seed, seed=10 + seed)).save(folder / f"raw{seed}.png")
    (folder / "notes.png").write_bytes(b"not an image")
    return folder


@pytest.fixture(scope="module")
def app(tiny_branch_dirs, tmp_path_factory):
    """app.py imported with the tiny models as its settings, serving on a free local port; it
    saves corrections to a repo of its own (``app.SETTINGS.save_repo``, made on the first save)."""
    settings = {"ANIMEPARSE_MODEL_A": str(tiny_branch_dirs["A"]), "ANIMEPARSE_MODEL_B": str(tiny_branch_dirs["B"]),
                "ANIMEPARSE_SAVE_REPO": str(tmp_path_factory.mktemp("saves") / "corrections"),
                "ANIMEPARSE_LABEL_QUEUE": str(label_queue(tmp_path_factory.mktemp("queue")))}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        spec = importlib.util.spec_from_file_location("animeparse_app", ROOT / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    module.demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield module
    module.demo.close()


@pytest.fixture(scope="module")
def reference(tiny_branch_dirs):
    """The same models loaded apart from the app: what the app should show."""
    return load_branches({name: str(path) for name, path in tiny_branch_dirs.items()})


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(30_000)
        page.goto(app.demo.local_url)
        yield page
        browser.close()


def picture(page, selector: str = "#result img", before: str | None = None) -> tuple[str, np.ndarray]:
    """The URL and pixels of the image the page shows at ``selector``, once it is not ``before``."""
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel); return i && i.complete && i.src && i.src !== old }",
        arg=[selector, before],
    )
    src = page.locator(selector).first.evaluate("e => e.src")
    return src, np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


LABELS_LINK = 'a[download="girl_labels.png"]'


def new_href(page, selector: str, old: str) -> str:
    """The address of the link at ``selector`` once it is not ``old``."""
    page.wait_for_function("([sel, old]) => { const a = document.querySelector(sel); return a && a.href !== old }", arg=[selector, old])
    return page.locator(selector).get_attribute("href")


def test_browser_session(app, page, reference, tmp_path):
    calls = count_forwards(app.MODELS)

    # A broken file gets a message, and the page keeps working.
    broken = tmp_path / "broken.png"
    Image.fromarray(random_rgb(40, 40)).save(broken)
    broken.write_bytes(broken.read_bytes()[:80])
    page.locator("#input input[type=file]").set_input_files(broken)
    page.get_by_text("broken.png: corrupt or truncated image").wait_for()

    rgb = random_rgb(72, 88, seed=1)
    Image.fromarray(rgb).save(tmp_path / "girl.png")
    page.locator("#input input[type=file]").set_input_files(tmp_path / "girl.png")
    expected = predict(reference, Image.fromarray(rgb), ENSEMBLE)
    labels = expected.labels(ENSEMBLE, SCHEMA_16)
    visible = set(range(1, 16))  # all but the background, at the default opacity
    src, shown = picture(page)
    np.testing.assert_array_equal(shown, overlay(rgb, labels, SCHEMA_16, visible, app.DEFAULT_OPACITY))

    # Uncheck the largest class: its pixels show the input again, the rest stays.
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    target = int(ids[counts.argmax()])
    page.locator("#classes").get_by_role("checkbox", name=SCHEMA_16.names[target], exact=True).uncheck()
    visible.discard(target)
    src, shown = picture(page, before=src)
    np.testing.assert_array_equal(shown[labels == target], rgb[labels == target])
    np.testing.assert_array_equal(shown, overlay(rgb, labels, SCHEMA_16, visible, app.DEFAULT_OPACITY))

    page.locator("#opacity input[type=number]").fill("0.2")
    page.locator("#opacity input[type=number]").press("Enter")
    src, shown = picture(page, before=src)
    np.testing.assert_array_equal(shown, overlay(rgb, labels, SCHEMA_16, visible, 0.2))

    # Views.
    page.get_by_role("radio", name="color map").check()
    src, shown = picture(page, before=src)
    np.testing.assert_array_equal(shown, color_map(labels, SCHEMA_16, visible))

    page.get_by_role("radio", name="side by side").check()
    _, left = picture(page, "#compare img")
    _, right = picture(page, "#compare img:nth-of-type(2)")
    np.testing.assert_array_equal(left, rgb)
    np.testing.assert_array_equal(right, overlay(rgb, labels, SCHEMA_16, visible, 0.2))

    page.get_by_role("radio", name="disagreement").check()
    src, shown = picture(page, before=src)
    disagree = expected.disagreement(SCHEMA_16)
    assert disagree.any()
    np.testing.assert_array_equal(np.all(shown == (255, 0, 255), axis=-1), disagree)
    page.get_by_text(f"A and B pick different classes on {disagree.mean():.1%} of the pixels").wait_for()

    page.get_by_role("radio", name="overlay").check()
    src, shown = picture(page, before=src)
    np.testing.assert_array_equal(shown, overlay(rgb, labels, SCHEMA_16, visible, 0.2))

    # 13 classes: new toggles, merged labels, no new forward pass.
    href = page.locator(LABELS_LINK).get_attribute("href")
    page.get_by_role("radio", name="13 classes").check()
    src, shown = picture(page, before=src)
    assert page.locator("#classes input[type=checkbox]").count() == 13
    labels_13 = expected.labels(ENSEMBLE, SCHEMA_13)
    visible_13 = {SCHEMA_13.label2id[n] for n in SCHEMA_13.names[1:] if SCHEMA_16.label2id[n] in visible}
    np.testing.assert_array_equal(shown, overlay(rgb, labels_13, SCHEMA_13, visible_13, 0.2))

    # Model A, 16 classes: the downloaded label map is the model's own prediction.
    href = new_href(page, LABELS_LINK, href)  # the 13-class downloads
    page.get_by_role("radio", name="16 classes").check()
    href = new_href(page, LABELS_LINK, href)
    page.get_by_role("radio", name="A", exact=True).check()
    new_href(page, LABELS_LINK, href)
    with page.expect_download() as download:
        page.locator(LABELS_LINK).click()
    downloaded = np.asarray(Image.open(download.value.path()))

    # transformers' own map of the picture's frame, from the model's flip-averaged output
    model, processor = reference["A"]
    frame_height, frame_width, top, left = frame_window(*rgb.shape[:2])
    width, height = input_size(processor.size, frame_width, frame_height)
    with torch.inference_mode():
        outputs = model(**processor(images=pad_to_frame(Image.fromarray(rgb)), size={"height": height, "width": width}, return_tensors="pt"))
    own = processor.post_process_semantic_segmentation(outputs, target_sizes=[(frame_height, frame_width)])[0].numpy()
    np.testing.assert_array_equal(downloaded, own[top : top + rgb.shape[0], left : left + rgb.shape[1]])

    assert calls == {"A": 1, "B": 1}  # everything after the upload was drawn from the kept logits


def paint(page, row: float, height: int, width: int) -> None:
    """Drag the editor's brush across the whole picture (centered in the canvas) along image row ``row``."""
    canvas = page.locator("#editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = float(page.locator("#editor").get_by_text("%").first.inner_text().strip("%")) / 100
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + (row - height / 2) * scale
    page.mouse.move(x - (width / 2 - 0.5) * scale, y)
    page.mouse.down()
    page.mouse.move(x + (width / 2 - 0.5) * scale, y, steps=12)
    page.mouse.up()


def choose_paint_class(page, name: str) -> None:
    page.locator("#paint-class input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_timeout(1000)  # the editor takes the new brush color


def test_correct_a_parse_and_save_it_as_training_data(app, page, reference, tmp_path):
    """Parse, paint a band with another class and a band as unlabeled, save; the repo's new row
    holds exactly that correction; a second picture appends; saving a name twice asks first."""
    import datasets

    page.goto(app.demo.local_url)
    # A refused file leaves the input box empty, not a broken picture.
    broken = tmp_path / "broken.png"
    Image.fromarray(random_rgb(40, 40)).save(broken)
    broken.write_bytes(broken.read_bytes()[:80])
    page.locator("#input input[type=file]").set_input_files(broken)
    page.get_by_text("broken.png: corrupt or truncated image").wait_for()
    page.wait_for_function("() => !document.querySelector('#input img')")

    rgb = np.full((160, 88, 3), 200, np.uint8)  # a tall sprite
    rgb[40:120, 20:70] = (40, 90, 200)
    Image.fromarray(rgb).save(tmp_path / "sprite.png")
    page.locator("#input input[type=file]").set_input_files(tmp_path / "sprite.png")
    picture(page)
    parse = predict(reference, Image.fromarray(rgb), ENSEMBLE).labels(ENSEMBLE, SCHEMA_16)

    # Side by side shows the whole tall picture, and the view switch shows its choice.
    page.get_by_role("radio", name="side by side").check()
    picture(page, "#compare img")
    box, frame = page.locator("#compare img").first.bounding_box(), page.locator("#compare").bounding_box()
    assert frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"]
    assert page.get_by_role("radio", name="side by side").is_checked()

    page.get_by_role("radio", name="correct").check()
    page.locator("#editor canvas").first.wait_for()
    page.get_by_text("Correct and save as training data").click()
    page.wait_for_timeout(1000)  # the editor fits the picture to its canvas
    choose_paint_class(page, "props")
    paint(page, 145, 160, 88)
    choose_paint_class(page, app.UNLABELED)
    paint(page, 15, 160, 88)
    page.locator("#save").click()
    page.get_by_text("Saved: sprite.png added in train").first.wait_for()

    rows = datasets.load_dataset(str(app.SETTINGS.save_repo), download_mode="force_redownload")["train"]
    assert len(rows) == 1 and rows[0]["file_name"] == "sprite.png"
    np.testing.assert_array_equal(np.asarray(rows[0]["image"]), rgb)
    saved = np.asarray(rows[0]["label"])
    changed = saved != parse
    # the props stroke along row 145 and the unlabeled stroke along row 15 (255 where nothing is
    # labeled), the parse everywhere else
    props = SCHEMA_16.label2id["props"]
    assert (saved[145, 1:-1] == props).all() and (saved[15, 1:-1] == 255).all()
    assert (saved[:80][changed[:80]] == 255).all() and (saved[80:][changed[80:]] == props).all()
    assert not changed[50:110].any()

    # A second picture appends a row; the first stays as it was.
    Image.fromarray(rgb[::-1].copy()).save(tmp_path / "other.png")
    page.locator("#input input[type=file]").set_input_files(tmp_path / "other.png")
    page.wait_for_timeout(1500)
    page.locator("#save").click()
    page.get_by_text("Saved: other.png added in train").first.wait_for()
    rows = datasets.load_dataset(str(app.SETTINGS.save_repo), download_mode="force_redownload")["train"]
    assert rows["file_name"] == ["sprite.png", "other.png"]
    np.testing.assert_array_equal(np.asarray(rows[0]["label"]), saved)

    # Saving the same name again asks first, and leaves the repo alone.
    page.locator("#save").click()
    page.get_by_text("already has a row named other.png").first.wait_for()
    assert len(datasets.load_dataset(str(app.SETTINGS.save_repo), download_mode="force_redownload")["train"]) == 2

    # Next to label: the queue folder ranked by A/B disagreement; a click parses the picked image.
    page.get_by_text("Next to label").click()
    page.locator("#rank").click()
    cell = lambda row: page.locator(f"#queue [data-testid='cell-{row}-0']:visible").first  # noqa: E731
    ranked = rank_by_disagreement(reference, sorted(app.SETTINGS.label_queue.iterdir()))
    page.wait_for_function("() => document.querySelector('#queue').innerText.includes('notes.png')")
    assert [cell(i).inner_text().strip() for i in range(len(ranked))] == [r.path.name for r in ranked]
    assert ranked[-1].path.name == "notes.png" and ranked[-1].disagreement is None
    top = ranked[0]
    expected = Image.open(top.path).width
    cell(0).click()
    # the previous picture stays in the box until the new one loads: wait for the picked one
    page.wait_for_function(f"() => {{ const i = document.querySelector('#input img'); return i && i.complete && i.naturalWidth === {expected} }}")
    width = page.locator("#input img").evaluate("i => i.naturalWidth")
    assert width == expected


# ---------------------------------------------------------------- handlers


def test_fill_undo_and_restart_in_the_correct_view(app):
    from animeparse.correction import Correction

    prediction = app.predict(app.MODELS, Image.fromarray(random_rgb(30, 40, seed=3)), "A")
    ring = np.zeros((30, 40), np.uint8)
    ring[5, 5:20] = ring[20, 5:20] = ring[5:21, 5] = ring[5:21, 19] = 4  # an outline of eyebrows
    classes = list(SCHEMA_16.names)
    value, table, corr = app.fill(prediction, "A", "16", classes, 0.6, None, Correction("16", ring), "eyebrows")
    assert (corr.labels[5:21, 5:20] == 4).all() and (corr.labels[:5] == 0).all()
    assert value["layers"] == [] and np.asarray(Image.open(value["background"])).shape == (30, 40, 3)
    assert table == [["background", round(100 * (corr.labels == 0).mean(), 2)], ["eyebrows", round(100 * (corr.labels == 4).mean(), 2)]]
    _, _, corr = app.undo(prediction, "A", "16", classes, 0.6, None, corr)
    np.testing.assert_array_equal(corr.labels, ring)
    _, _, corr = app.reset(prediction, "A", "16", classes, 0.6)
    np.testing.assert_array_equal(corr.labels, prediction.labels("A", SCHEMA_16))


def test_save_pushes_the_repo_to_a_private_hub_dataset(app, hub, monkeypatch, tmp_path):
    """With --push-repo set, Save can also upload the repo (private, token from HF_TOKEN)."""
    import datasets
    from huggingface_hub import HfApi

    from animeparse.correction import Correction

    monkeypatch.setattr(app.SETTINGS, "save_repo", tmp_path / "pushed")
    monkeypatch.setattr(app.SETTINGS, "push_repo", "org/corrections")
    prediction = app.predict(app.MODELS, Image.fromarray(random_rgb(24, 20, seed=5)), "A", name="pic")
    labels = np.full((24, 20), 255, np.uint8)
    labels[5:10] = 3
    _, message = app.save(prediction, "A", "16", None, Correction("16", labels), "train", False, True)
    assert "Pushed to" in message
    assert HfApi().repo_info("org/corrections", repo_type="dataset").private
    files = hub.files("org/corrections", "dataset")
    assert {"README.md", "id2label.json", "data/train-00000-of-00001.parquet"} <= set(files)
    pulled = datasets.load_dataset("org/corrections")["train"]
    np.testing.assert_array_equal(np.asarray(pulled[0]["label"]), labels)


def test_old_file_folders_are_swept_once_a_minute(app, tmp_path, monkeypatch):
    """Folders handed to gradio older than FILES_MAX_AGE_S go; the sweep reads every folder's age,
    so a request runs it only when the last one is SWEEP_EVERY_S old."""
    clock = [app.time.time()]
    monkeypatch.setattr(app.time, "time", lambda: clock[0])

    def folder(name: str, age: float) -> Path:
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (clock[0] - age, clock[0] - age))
        return tmp_path / name

    old, recent = folder("old", app.FILES_MAX_AGE_S + 1), folder("recent", app.FILES_MAX_AGE_S - 1)
    first = app.fresh_dir(tmp_path)
    assert first.is_dir() and not old.exists() and recent.exists()
    clock[0] += app.SWEEP_EVERY_S - 1
    older = folder("older", app.FILES_MAX_AGE_S + 1)
    app.fresh_dir(tmp_path)
    assert older.exists()  # swept under a minute ago
    clock[0] += 1
    app.fresh_dir(tmp_path)
    assert not older.exists() and first.exists()


def test_share_table_and_empty_input(app, reference):
    rgb = random_rgb(30, 40, seed=2)
    prediction = app.predict(app.MODELS, Image.fromarray(rgb), "B")
    _, _, _, legend, table, _ = app.show(prediction, "B", "13", list(SCHEMA_13.names), 0.5, "overlay")
    labels = predict(reference, Image.fromarray(rgb), "B").labels("B", SCHEMA_13)
    counts = np.bincount(labels.ravel(), minlength=13)
    assert {name: share for name, share in table} == pytest.approx(
        {name: round(c * 100 / labels.size, 2) for name, c in zip(SCHEMA_13.names, counts) if c}
    )
    assert [share for _, share in table] == sorted((share for _, share in table), reverse=True)
    assert all(f"{name}</span>" in legend for name, c in zip(SCHEMA_13.names, counts) if c)

    assert app.parse_upload(None, ENSEMBLE, "overlay")[:2] == (None, None)
    result, compare, editor, legend, table, correction = app.show(None, ENSEMBLE, "16", [], 0.5, "overlay")
    assert result["value"] is None and legend == "" and table == []
    assert app.export_files(None, ENSEMBLE, "16") is None


# ---------------------------------------------------------------- API


@pytest.fixture(scope="module")
def client(app):
    return Client(app.demo.local_url, verbose=False)


def api_labels(client, path, use="A", classes="16") -> tuple[np.ndarray, list[str]]:
    label_file, names = client.predict(handle_file(str(path)), use, classes, api_name="/parse")
    return np.asarray(Image.open(label_file)), names


def test_api_returns_label_map_and_class_list(client, reference, tmp_path):
    rgb = random_rgb(50, 64, seed=3)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    expected = predict(reference, Image.fromarray(rgb), ENSEMBLE)
    for use, schema in (("A", SCHEMA_16), (ENSEMBLE, SCHEMA_13)):
        labels, names = api_labels(client, tmp_path / "a.png", use, str(schema.num_classes))
        assert names == list(schema.names)
        np.testing.assert_array_equal(labels, expected.labels(use, schema))

    with pytest.raises(Exception, match="model must be one of"):
        client.predict(handle_file(str(tmp_path / "a.png")), "C", "16", api_name="/parse")
    with pytest.raises(Exception, match="classes must be one of"):
        client.predict(handle_file(str(tmp_path / "a.png")), "A", "7", api_name="/parse")


def save_exif_rotated(path: Path) -> np.ndarray:
    """A JPEG stored 40x60 whose EXIF says: turn 90 degrees clockwise to view."""
    Image.fromarray(random_rgb(40, 60, seed=4)).save(path, exif=_orientation(6), quality=95)
    return np.rot90(np.asarray(Image.open(path).convert("RGB")), k=-1)


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def save_rgba(path: Path) -> np.ndarray:
    rgba = np.dstack([random_rgb(32, 48, seed=5), np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (32, 1))])
    Image.fromarray(rgba, "RGBA").save(path)
    white = Image.new("RGBA", (48, 32), "white")
    return np.asarray(Image.alpha_composite(white, Image.fromarray(rgba, "RGBA")).convert("RGB"))


def save_gray(path: Path) -> np.ndarray:
    gray = random_rgb(30, 30, seed=6)[..., 0]
    Image.fromarray(gray, "L").save(path)
    return np.repeat(gray[..., None], 3, axis=2)


def save_16bit(path: Path) -> np.ndarray:
    deep = np.tile(np.linspace(0, 65535, 40).astype(np.uint16), (24, 1))
    Image.fromarray(deep).save(path)  # uint16: mode I;16
    eight = np.clip(deep / 65535 * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(eight[..., None], 3, axis=2)


def save_cmyk(path: Path) -> np.ndarray:
    Image.fromarray(random_rgb(36, 36, seed=7)).convert("CMYK").save(path, quality=95)
    return np.asarray(Image.open(path).convert("RGB"))


def save_palette(path: Path) -> np.ndarray:
    image = Image.fromarray(random_rgb(28, 44, seed=8)).quantize(16)
    image.save(path)
    return np.asarray(image.convert("RGB"))


def save_animated(path: Path) -> np.ndarray:
    frames = [Image.fromarray(random_rgb(40, 40, seed=s)).quantize(64) for s in (9, 10)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    return np.asarray(frames[0].convert("RGB"))


def save_large(path: Path) -> np.ndarray:
    Image.fromarray(random_rgb(60, 2100, seed=11)).save(path)
    return np.asarray(fit_within(Image.open(path).convert("RGB"), 2048))


@pytest.mark.parametrize(
    "name, save",
    [
        ("rotated.jpg", save_exif_rotated),
        ("alpha.png", save_rgba),
        ("gray.png", save_gray),
        ("deep.png", save_16bit),
        ("cmyk.jpg", save_cmyk),
        ("palette.png", save_palette),
        ("animated.gif", save_animated),
        ("wide.png", save_large),
    ],
)
def test_api_reads_odd_images_correctly(client, reference, tmp_path, name, save):
    rgb = save(tmp_path / name)
    labels, _ = api_labels(client, tmp_path / name)
    np.testing.assert_array_equal(labels, predict(reference, Image.fromarray(rgb), "A").labels("A", SCHEMA_16))


def save_text(path: Path) -> None:
    path.write_text("a text file named like an image")


def save_truncated(path: Path) -> None:
    Image.fromarray(random_rgb(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:200])


def save_dot(path: Path) -> None:
    Image.new("RGB", (1, 1), "red").save(path)


def save_huge(path: Path) -> None:
    side = int(MAX_PIXELS**0.5) + 1
    Image.new("1", (side, side)).save(path)  # a few KB on disk, over the pixel budget decoded


@pytest.mark.parametrize(
    "name, save, message",
    [
        ("text.png", save_text, "text.png: not an image file"),
        ("cut.png", save_truncated, "cut.png: corrupt or truncated image"),
        ("dot.png", save_dot, "dot.png: image is 1x1; each side must be at least"),
        ("huge.png", save_huge, "huge.png: image is 8193x8193 = 67,125,249 pixels, over the limit"),
    ],
)
def test_api_refuses_bad_images_and_keeps_serving(client, reference, tmp_path, name, save, message):
    save(tmp_path / name)
    with pytest.raises(Exception, match=message):
        api_labels(client, tmp_path / name)
    Image.fromarray(random_rgb(20, 20)).save(tmp_path / "fine.png")
    labels, _ = api_labels(client, tmp_path / "fine.png")
    assert labels.shape == (20, 20)


def test_missing_models_stop_the_app_with_a_hint(tmp_path):
    env = {**os.environ, "ANIMEPARSE_MODEL_B": str(tmp_path / "nowhere")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--model-a", str(tmp_path / "missing"), "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 1
    assert f"no model A: {tmp_path / 'missing'} is not a folder" in result.stderr
    assert "ANIMEPARSE_MODEL_A" in result.stderr and "--model-a" in result.stderr


def test_flip_setting_from_environment_or_command_line(app, monkeypatch):
    """The app flips by default; ANIMEPARSE_FLIP=0 (a Space's setting) or --no-flip turns it off,
    and a command-line option overrides the environment."""
    assert all(isinstance(model, FlipAveraged) for model, _ in app.MODELS.values())
    assert app.read_settings([]).flip
    assert not app.read_settings(["--no-flip"]).flip
    monkeypatch.setenv("ANIMEPARSE_FLIP", "0")
    assert not app.read_settings([]).flip
    assert app.read_settings(["--flip"]).flip


def test_zoom_faces_setting_from_environment_or_command_line(app, monkeypatch, tmp_path):
    """The app takes a closer look at the faces by default; ANIMEPARSE_ZOOM_FACES=0 or
    --no-zoom-faces turns it off, and a command-line option overrides the environment."""
    assert app.read_settings([]).zoom_faces
    assert not app.read_settings(["--no-zoom-faces"]).zoom_faces
    monkeypatch.setenv("ANIMEPARSE_ZOOM_FACES", "0")
    assert not app.read_settings([]).zoom_faces
    assert app.read_settings(["--zoom-faces"]).zoom_faces
    path = tmp_path / "picture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(path)
    prediction = app.parse_upload(str(path), "A", "overlay")[0]
    assert prediction.zoom and prediction.views is not None and "A" in prediction.view_logits
    monkeypatch.setattr(app.SETTINGS, "zoom_faces", False)
    assert not app.parse_upload(str(path), "A", "overlay")[0].zoom
