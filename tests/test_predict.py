"""The inference core: label maps, ensemble, schema merge, pictures, exports and the batch command."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import count_forwards, tiny_model
from PIL import Image
from transformers.modeling_outputs import SemanticSegmenterOutput

from animeparse.labels import IGNORE_COLOR, MERGE_16_TO_13, SCHEMA_13, SCHEMA_16, remap
from animeparse.model import ModelLoadError, input_size, make_processor, model_input, save_model
from animeparse.branches import ENSEMBLE
from animeparse.images import pad_to_frame
from animeparse.drawing import class_shares, color_map, disagreement_view, overlay
from animeparse.inference import (
    Prediction, class_scores, label_map, label_tensor, load_branches, predict, upsampled_argmax,
)
from animeparse.outputs import export, layers_zip
from animeparse.predict import main


def random_image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def branches(tiny_branch_dirs):
    return load_branches({name: str(path) for name, path in tiny_branch_dirs.items()})


def transformers_logits(branch, frame: Image.Image) -> torch.Tensor:
    """The model's own output on a framed picture at the frame's input size, through transformers
    only: (1, C, h, w)."""
    model, processor = branch
    width, height = input_size(processor.size, *frame.size)
    with torch.inference_mode():
        return model(**processor(images=frame, size={"height": height, "width": width}, return_tensors="pt")).logits


def test_branch_label_map_is_transformers_post_processing(branches):
    """A square picture's map is transformers' own post-processing; any other picture's is that of
    its frame (edge pixels repeated) at the frame's input size, in the picture's window: a tall
    picture's square, a wide one as it is (its width in proportion), a wider one padded to 2:1."""
    _, processor = branches["A"]
    for size, (top, left) in [((80, 80), (0, 0)), ((90, 70), (0, 10)), ((70, 90), (0, 0)), ((30, 90), (7, 0))]:
        image = random_image(*size)
        labels = predict(branches, image, "A").labels("A", SCHEMA_16)
        frame = pad_to_frame(image)
        outputs = SemanticSegmenterOutput(logits=transformers_logits(branches["A"], frame))
        expected = processor.post_process_semantic_segmentation(outputs, target_sizes=[frame.size[::-1]])[0].numpy()
        assert labels.dtype == np.uint8 and labels.shape == size
        np.testing.assert_array_equal(labels, expected[top : top + size[0], left : left + size[1]])
        assert len(np.unique(labels)) > 1  # a real map, not a constant


@pytest.mark.parametrize("settings", [{}, {"size": {"height": 40, "width": 56}, "image_mean": [0.5, 0.4, 0.3],
                                       "image_std": [0.1, 0.2, 0.3], "rescale_factor": 1 / 127},
                                      {"image_mean": 0.5, "image_std": 0.25}])
def test_model_input_is_the_processors_own_bit_for_bit(settings):
    processor = make_processor(64)
    for name, value in settings.items():
        setattr(processor, name, value)
    for size in [(64, 64), (100, 100), (33, 33), (70, 90)]:
        image = random_image(*size, seed=size[0])
        width, height = input_size(processor.size, *image.size)  # a wide picture: its width in proportion
        expected = processor(images=image, size={"height": height, "width": width}, return_tensors="np")["pixel_values"]
        got = model_input(processor, image)
        assert got.dtype == expected.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    processor.do_normalize = False  # other steps than resize, rescale, normalize: the processor itself
    np.testing.assert_array_equal(model_input(processor, image), processor(images=image, return_tensors="np")["pixel_values"])


def test_ensemble_is_argmax_of_averaged_probabilities(branches):
    image = random_image(48, 40, seed=1)
    prediction = predict(branches, image, ENSEMBLE)
    probs = [  # the padded 48 x 48 square's scores, the picture's 48 x 40 window of them
        F.interpolate(transformers_logits(branches[name], pad_to_frame(image)), size=(48, 48), mode="bilinear",
                      align_corners=False)[0, :, :, 4:44].softmax(0)
        for name in ("A", "B")
    ]
    expected = ((probs[0] + probs[1]) / 2).argmax(0).numpy()
    np.testing.assert_array_equal(prediction.labels(ENSEMBLE, SCHEMA_16), expected)
    # The two branches really differ here, so the ensemble is not just one of them.
    assert (prediction.labels("A", SCHEMA_16) != prediction.labels("B", SCHEMA_16)).any()


def test_flip_averages_each_model_over_the_mirror_image(tiny_branch_dirs):
    """By default a branch answers with the mean of its model's logits on the picture and, mirrored
    back, on its mirror image: one batch of two, exactly mirror-symmetric; flip=False is the
    plain forward pass."""
    plain, processor = load_branches({"A": str(tiny_branch_dirs["A"])}, flip=False)["A"]
    flipped, _ = load_branches({"A": str(tiny_branch_dirs["A"])})["A"]
    pixels = torch.from_numpy(model_input(processor, random_image(64, 64, seed=3)))
    with torch.inference_mode():
        one, mirrored = plain(pixel_values=pixels).logits, plain(pixel_values=pixels.flip(-1)).logits
        got = flipped(pixel_values=pixels).logits
        assert torch.equal(flipped(pixel_values=pixels.flip(-1)).logits, got.flip(-1))
    torch.testing.assert_close(got, (one + mirrored.flip(-1)) / 2, rtol=0, atol=1e-5)  # batch of two vs two of one
    assert (got - one).abs().max() > 1e-3  # the mirror image really changes the answer
    image = random_image(40, 56, seed=4)
    assert (predict({"A": (flipped, processor)}, image, "A").labels("A", SCHEMA_16)
            != predict({"A": (plain, processor)}, image, "A").labels("A", SCHEMA_16)).any()
    assert flipped.config.id2label == plain.config.id2label  # the wrapped model's config, as the app reads it


def test_ensemble_prepares_the_pixels_once_per_processor(branches, monkeypatch):
    """Branches with the same processor settings share one model input; a branch whose processor
    differs (another size) gets its own, and each branch's logits are its own forward pass."""
    import animeparse.inference as inference

    prepared = []
    monkeypatch.setattr(inference, "model_input", lambda p, img: prepared.append(p.size) or model_input(p, img))
    image = random_image(100, 80, seed=5)
    predict(branches, image, ENSEMBLE)
    assert len(prepared) == 1

    model_b, _ = branches["B"]
    mixed = {"A": branches["A"], "B": (model_b, make_processor(96))}
    prediction = predict(mixed, image, ENSEMBLE)
    assert len(prepared) == 3
    for name, side in (("A", 64), ("B", 96)):
        assert prediction.logits[name].shape[1:] == (side // 4, side // 4)
        torch.testing.assert_close(prediction.logits[name], transformers_logits(mixed[name], pad_to_frame(image))[0])
    dense = class_scores([prediction.logits["A"], prediction.logits["B"]], (100, 80), SCHEMA_16, SCHEMA_16)
    np.testing.assert_array_equal(prediction.labels(ENSEMBLE, SCHEMA_16), label_map(dense).numpy())


def test_ensemble_of_one_model_twice_is_that_model(tiny_branch_dirs):
    same = load_branches({"A": str(tiny_branch_dirs["A"]), "B": str(tiny_branch_dirs["A"])})
    prediction = predict(same, random_image(40, 56, seed=2), ENSEMBLE)
    np.testing.assert_array_equal(prediction.labels(ENSEMBLE, SCHEMA_16), prediction.labels("A", SCHEMA_16))
    assert not prediction.disagreement(SCHEMA_16).any()


@pytest.mark.parametrize("size, frame", [((700, 334), (700, 700)), ((37, 50), (37, 50)), ((20, 50), (25, 50))])
@pytest.mark.parametrize("use", ["A", "B", ENSEMBLE])  # sizes: PyTorch's generic bilinear kernel, its small-output one
@pytest.mark.parametrize("schema", [SCHEMA_16, SCHEMA_13], ids=["16", "13"])
def test_label_maps_are_the_argmax_of_the_upsampled_scores(size, frame, use, schema):
    """Prediction.labels is exactly the rule written out: logits upsampled with F.interpolate to
    the picture's frame (a tall one's square, a wide one itself, a wider one padded to 2:1), the
    picture's window of it, softmax averaged / merged where needed, first
    maximum, as uint8. Logits rounded to a coarse grid make exact ties, which must go to the lower
    class id."""
    gen = torch.Generator().manual_seed(3)
    logits = {b: (torch.randn(16, 64, 64, generator=gen) * 4).round() for b in ("A", "B")}
    prediction = Prediction(np.zeros((*size, 3), np.uint8), SCHEMA_16, logits=dict(logits))

    top, left = (frame[0] - size[0]) // 2, (frame[1] - size[1]) // 2
    up = {b: F.interpolate(x[None], size=frame, mode="bilinear", align_corners=False)[0, :, top : top + size[0], left : left + size[1]]
          for b, x in logits.items()}
    members = ["A", "B"] if use == ENSEMBLE else [use]
    if len(members) == 1 and schema is SCHEMA_16:
        scores = up[use]
    else:
        scores = sum(up[b].softmax(0) for b in members) / len(members)
        if schema is SCHEMA_13:
            table = torch.as_tensor(MERGE_16_TO_13[:16].astype(np.int64))
            scores = torch.zeros(13, *size).index_add_(0, table, scores)
    expected = scores.max(0).indices.to(torch.uint8).numpy()
    got = prediction.labels(use, schema)
    assert got.dtype == np.uint8 and got.shape == size
    np.testing.assert_array_equal(got, expected)


def smooth_logits(seed: int, grid: tuple[int, int], whole: bool) -> torch.Tensor:
    """(16, h, w) logits shaped like a model's: smooth fields, so broad regions of one class with
    boundaries between them; rounded to whole numbers (``whole``), they also tie exactly."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 16, grid[0] // 8 + 2, grid[1] // 8 + 2, generator=gen)
    logits = F.interpolate(coarse, size=grid, mode="bicubic", align_corners=False)[0] * 8
    logits += 0.05 * torch.randn(16, *grid, generator=gen)
    return logits.round() if whole else logits


@pytest.mark.parametrize("grid", [(64, 64), (37, 50)])
@pytest.mark.parametrize("whole", [False, True], ids=["smooth", "ties"])
def test_upsampled_argmax_is_the_dense_rule(grid, whole):
    """The single-branch shortcut is exactly the argmax of the full-size upsampled logits: at
    sizes that are no multiple of the logit grid, exact multiples, smaller than the grid (in one
    or both sides) and tiny; exact ties included."""
    sizes = [(70, 90), (333, 701), (700, 334), (128, 128), (256, 192), (64, 64), (37, 50), (40, 100), (1, 300), (10, 7), (1, 1)]
    for seed in range(3):
        logits = smooth_logits(seed, grid, whole)
        assert len(logits.argmax(0).unique()) > 3  # many regions and boundaries, not one flat class
        for size in sizes:
            expected = label_map(class_scores([logits], size, SCHEMA_16, SCHEMA_16)).numpy().astype(np.uint8)
            got = upsampled_argmax(logits, size)
            assert got.dtype == np.uint8 and got.shape == size
            np.testing.assert_array_equal(got, expected, err_msg=f"seed {seed}, size {size}")


@pytest.mark.parametrize("whole", [False, True], ids=["smooth", "ties"])
def test_ensemble_argmax_is_the_dense_rule(whole, monkeypatch):
    """The ensemble shortcut is exactly the argmax of the branches' mean softmax at full size: for
    two branches that mostly agree (as a trained pair does), at the sizes of the one-branch test,
    exact ties included; and for two unrelated branches, where it hands over to the dense rule."""
    import animeparse.inference as inference

    sizes = [(70, 90), (333, 701), (700, 334), (256, 192), (64, 64), (40, 100), (1, 300), (10, 7)]
    for seed in range(2):
        a = smooth_logits(seed, (48, 40), whole)
        b = 0.8 * a + 0.2 * smooth_logits(seed + 10, (48, 40), False)  # mostly a's classes
        pairs = {"agree": (a, b.round() if whole else b), "unrelated": (a, smooth_logits(seed + 20, (48, 40), whole)),
                 "same": (a, a.clone())}  # with whole numbers: exact ties, broken as the dense rule breaks them
        for kind, pair in pairs.items():
            for share in (1.0, inference.ENSEMBLE_DENSE_SHARE):  # 1.0: every pixel through the shortcut
                monkeypatch.setattr(inference, "ENSEMBLE_DENSE_SHARE", share)
                for size in sizes:
                    expected = label_map(class_scores(list(pair), size, SCHEMA_16, SCHEMA_16)).numpy().astype(np.uint8)
                    got = inference.ensemble_argmax(list(pair), size)
                    assert got.dtype == np.uint8 and got.shape == size
                    np.testing.assert_array_equal(got, expected, err_msg=f"seed {seed}, {kind}, share {share}, size {size}")
            monkeypatch.undo()
        assert (pairs["agree"][0].argmax(0) == pairs["agree"][1].argmax(0)).float().mean() > 0.7
        assert len(pairs["agree"][0].argmax(0).unique()) > 3


def test_label_tensor_keeps_each_rule_and_stays_on_the_logits_device():
    """On the CPU the one-branch shortcut and the dense rule give the same maps; on another device
    (here "meta", which computes shapes only) the map is made there, never through numpy."""
    a, b = smooth_logits(0, (37, 50), False), smooth_logits(1, (37, 50), False)
    size = (120, 170)
    for branches in ([a], [a, b]):
        for target in (SCHEMA_16, SCHEMA_13):
            got = label_tensor(branches, size, SCHEMA_16, target)
            expected = label_map(class_scores(branches, size, SCHEMA_16, target))
            assert torch.equal(got.long(), expected) and got.shape == size
        on_meta = label_tensor([x.to("meta") for x in branches], size, SCHEMA_16, SCHEMA_16)
        assert on_meta.device.type == "meta" and tuple(on_meta.shape) == size


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="torch's plain x86-64 kernels")
def test_upsampled_argmax_follows_torch_kernels_without_fused_multiply_adds():
    """torch's plain x86-64 kernels (ATEN_CPU_CAPABILITY=default) round without fused multiply-adds:
    the shortcut notices, and still breaks exact ties as they do."""
    code = (
        "import numpy as np, torch\n"
        "from animeparse.inference import class_scores, label_map, upsampled_argmax\n"
        "from animeparse.labels import SCHEMA_16\n"
        "assert torch.backends.cpu.get_cpu_capability() == 'DEFAULT'\n"
        "logits = (torch.randn(16, 64, 64, generator=torch.Generator().manual_seed(3)) * 4).round()\n"
        "for size in [(700, 334), (333, 701), (256, 192)]:\n"
        "    expected = label_map(class_scores([logits], size, SCHEMA_16, SCHEMA_16)).numpy()\n"
        "    assert np.array_equal(upsampled_argmax(logits, size), expected), size\n"
        "print('ok')"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def probabilities_as_logits(*pixels: dict[str, float]) -> torch.Tensor:
    """(16, 1, N) logits whose softmax gives each pixel the named class probabilities."""
    probs = torch.full((16, 1, len(pixels)), 1e-6)
    for x, pixel in enumerate(pixels):
        for name, p in pixel.items():
            probs[SCHEMA_16.label2id[name], 0, x] = p
    return probs.log()


def test_13_classes_sum_member_probabilities():
    logits = probabilities_as_logits(
        {"hair": 0.4, "eyes": 0.3, "eyebrows": 0.3},  # hair wins alone; eyes + eyebrows win merged
        {"face": 0.3, "skin": 0.25, "arms": 0.25, "legs": 0.2},  # face alone; skin + arms + legs merged
        {"top": 0.9, "bottom": 0.1},  # a clear winner keeps its class
    )
    prediction = Prediction(np.zeros((1, 3, 3), np.uint8), SCHEMA_16, logits={"A": logits, "B": logits.roll(1, dims=2)})

    assert [SCHEMA_16.names[i] for i in prediction.labels("A", SCHEMA_16)[0]] == ["hair", "face", "top"]
    assert [SCHEMA_13.names[i] for i in prediction.labels("A", SCHEMA_13)[0]] == ["eyes", "skin", "top"]
    # Merging a label map instead would keep hair and face: the merge works on probabilities.
    assert [SCHEMA_13.names[i] for i in remap(prediction.labels("A", SCHEMA_16), MERGE_16_TO_13)[0]] == ["hair", "face", "top"]
    # The ensemble merges the averaged probabilities of both branches.
    probs = (logits.softmax(0) + logits.roll(1, dims=2).softmax(0)) / 2
    merged = torch.zeros(13, 1, 3).index_add_(0, torch.as_tensor(MERGE_16_TO_13[:16].astype(np.int64)), probs)
    np.testing.assert_array_equal(prediction.labels(ENSEMBLE, SCHEMA_13), merged.argmax(0).numpy())


def test_switching_schema_branch_and_toggles_runs_each_model_once(branches):
    calls = count_forwards(branches)
    prediction = predict(branches, random_image(64, 64, seed=3), "A")
    assert calls == {"A": 1, "B": 0}

    for schema in (SCHEMA_13, SCHEMA_16, SCHEMA_13):
        labels = prediction.labels("A", schema)
        overlay(prediction.image, labels, schema, range(1, schema.num_classes), 0.3)
        color_map(labels, schema, [1, 2])
    assert calls == {"A": 1, "B": 0}
    with pytest.raises(ValueError, match="model B has not run"):
        prediction.labels(ENSEMBLE, SCHEMA_16)

    prediction.run(branches, ENSEMBLE)  # only B is missing
    prediction.run(branches, "B")
    prediction.labels(ENSEMBLE, SCHEMA_13), prediction.disagreement(SCHEMA_16)
    assert calls == {"A": 1, "B": 1}


def test_disagreement_marks_where_branches_differ(branches):
    prediction = predict(branches, random_image(50, 60, seed=4), ENSEMBLE)
    for schema in (SCHEMA_16, SCHEMA_13):
        expected = prediction.labels("A", schema) != prediction.labels("B", schema)
        np.testing.assert_array_equal(prediction.disagreement(schema), expected)
    view = disagreement_view(prediction.image, prediction.disagreement(SCHEMA_16))
    assert (view[prediction.disagreement(SCHEMA_16)] == (255, 0, 255)).all()
    assert not (view[~prediction.disagreement(SCHEMA_16)] == (255, 0, 255)).all(axis=-1).any()


@pytest.fixture
def scene():
    image = np.random.default_rng(5).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    labels = np.zeros((20, 30), np.uint8)
    labels[2:8, 3:12] = 1  # hair
    labels[10:15, 5:25] = 9  # top
    labels[16:, :4] = 3  # eyes
    return image, labels


def test_overlay_paints_only_visible_classes(scene):
    image, labels = scene
    out = overlay(image, labels, SCHEMA_16, visible=[1, 9], opacity=0.25)
    untouched = ~np.isin(labels, [1, 9])
    np.testing.assert_array_equal(out[untouched], image[untouched])
    hair = labels == 1
    expected = np.round(image[hair] * 0.75 + np.array(SCHEMA_16.palette[1]) * 0.25)
    assert np.abs(out[hair].astype(int) - expected).max() <= 1

    np.testing.assert_array_equal(overlay(image, labels, SCHEMA_16, [1, 9], 0.0), image)
    opaque = overlay(image, labels, SCHEMA_16, range(16), 1.0)
    np.testing.assert_array_equal(opaque, SCHEMA_16.colorize(labels))
    with pytest.raises(ValueError, match="opacity"):
        overlay(image, labels, SCHEMA_16, [1], 1.5)


def test_color_map_leaves_hidden_classes_white(scene):
    _, labels = scene
    full = color_map(labels, SCHEMA_16)
    np.testing.assert_array_equal(full, SCHEMA_16.colorize(labels))
    partial = color_map(labels, SCHEMA_16, visible=[9])
    np.testing.assert_array_equal(partial[labels == 9], full[labels == 9])
    assert (partial[labels != 9] == IGNORE_COLOR).all()


def test_class_shares(scene):
    _, labels = scene
    shares = class_shares(labels, SCHEMA_16)
    assert [(i, n) for i, n, _ in shares] == list(enumerate(SCHEMA_16.names))
    by_name = {n: p for _, n, p in shares}
    assert by_name["hair"] == pytest.approx(54 * 100 / 600)
    assert by_name["top"] == pytest.approx(100 * 100 / 600)
    assert by_name["props"] == 0
    assert sum(by_name.values()) == pytest.approx(100)


def test_layers_zip_cuts_out_each_class(scene):
    image, labels = scene
    with zipfile.ZipFile(io.BytesIO(layers_zip(image, labels, SCHEMA_16))) as zf:
        assert sorted(zf.namelist()) == ["00_background.png", "01_hair.png", "03_eyes.png", "09_top.png"]
        for name in zf.namelist():
            layer = np.asarray(Image.open(zf.open(name)))
            inside = labels == int(name[:2])
            assert layer.shape == (20, 30, 4)
            np.testing.assert_array_equal(layer[..., 3], np.where(inside, 255, 0))
            np.testing.assert_array_equal(layer[inside][:, :3], image[inside])


def test_export_writes_label_map_color_map_and_layers(branches, tmp_path):
    prediction = predict(branches, random_image(33, 47, seed=6), "B", name="girl")
    files = export(prediction, "B", SCHEMA_13, tmp_path)
    assert [p.name for p in files] == ["girl_labels.png", "girl_colors.png", "girl_layers.zip"]
    labels = np.asarray(Image.open(files[0]))
    np.testing.assert_array_equal(labels, prediction.labels("B", SCHEMA_13))
    np.testing.assert_array_equal(np.asarray(Image.open(files[1])), SCHEMA_13.colorize(labels))
    assert zipfile.ZipFile(files[2]).namelist()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_branches_must_share_classes(tmp_path, tiny_branch_dirs):
    save_model(tiny_model(SCHEMA_13), make_processor(64), tmp_path)
    with pytest.raises(ModelLoadError, match="model B .* has classes .* both branches must share one schema"):
        load_branches({"A": str(tiny_branch_dirs["A"]), "B": str(tmp_path)})


# ---------------------------------------------------------------- batch command


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    random_image(40, 52, seed=7).save(folder / "plain.png")
    rgba = np.dstack([np.asarray(random_image(36, 36, seed=8)), np.full((36, 36), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    random_image(90, 150, seed=9).save(folder / "large.jpg")  # over --max-side 64 below
    (folder / "broken.png").write_bytes((folder / "plain.png").read_bytes()[:60])
    (folder / "notes.txt").write_text("not an image, and not named like one")
    return folder


def batch_args(inputs, tiny_branch_dirs, out, *extra):
    models = ["--model-a", str(tiny_branch_dirs["A"]), "--model-b", str(tiny_branch_dirs["B"])]
    return [str(inputs), "--out", str(out), *models, "--max-side", "64", *extra]


def test_batch_command_writes_maps_and_skips_unreadable_files(inputs, tiny_branch_dirs, branches, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "animeparse.predict", *batch_args(inputs, tiny_branch_dirs, out, "--overlays", "--use", "A")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "broken.png: corrupt or truncated image" in result.stderr
    assert "wrote 3 of 4 images" in result.stderr and "notes.txt" not in result.stderr
    for folder in ("labels", "colors", "overlays"):
        assert sorted(p.name for p in (out / folder).iterdir()) == ["large.png", "plain.png", "transparent.png"]

    labels = np.asarray(Image.open(out / "labels" / "plain.png"))
    np.testing.assert_array_equal(labels, predict(branches, Image.open(inputs / "plain.png"), "A").labels("A", SCHEMA_16))
    np.testing.assert_array_equal(np.asarray(Image.open(out / "colors" / "plain.png")), SCHEMA_16.colorize(labels))
    # Transparency is composited over white before parsing.
    white = Image.alpha_composite(Image.new("RGBA", (36, 36), "white"), Image.open(inputs / "transparent.png")).convert("RGB")
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / "labels" / "transparent.png")), predict(branches, white, "A").labels("A", SCHEMA_16)
    )
    # Large images are parsed downscaled, and their maps scaled back to the image size.
    large = Image.open(out / "labels" / "large.png")
    assert large.size == (150, 90) and large.mode == "L"
    small = predict(branches, Image.open(inputs / "large.jpg").resize((64, 38), Image.BICUBIC), "A").labels("A", SCHEMA_16)
    np.testing.assert_array_equal(np.asarray(large), np.asarray(Image.fromarray(small).resize((150, 90), Image.NEAREST)))


def test_batch_command_13_classes_and_clean_exit(inputs, tiny_branch_dirs, branches, tmp_path, capsys):
    (inputs / "broken.png").unlink()
    out = tmp_path / "out"
    assert main(batch_args(inputs, tiny_branch_dirs, out, "--classes", "13")) == 0
    labels = np.asarray(Image.open(out / "labels" / "plain.png"))
    expected = predict(branches, Image.open(inputs / "plain.png"), ENSEMBLE).labels(ENSEMBLE, SCHEMA_13)
    np.testing.assert_array_equal(labels, expected)
    assert not (out / "overlays").exists()
    assert "wrote 3 of 3 images" in capsys.readouterr().err


def test_batch_command_no_flip_gives_the_plain_forward_pass(inputs, tiny_branch_dirs, branches, tmp_path):
    (inputs / "broken.png").unlink()
    assert main(batch_args(inputs, tiny_branch_dirs, tmp_path / "plain", "--no-flip")) == 0
    plain = load_branches({name: str(path) for name, path in tiny_branch_dirs.items()}, flip=False)
    image = Image.open(inputs / "plain.png")
    labels = np.asarray(Image.open(tmp_path / "plain" / "labels" / "plain.png"))
    np.testing.assert_array_equal(labels, predict(plain, image, ENSEMBLE).labels(ENSEMBLE, SCHEMA_16))
    assert (labels != predict(branches, image, ENSEMBLE).labels(ENSEMBLE, SCHEMA_16)).any()  # the default flips


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--opacity", "1.5"], "--opacity must be in [0, 1]"),
        (["--max-side", "8"], "--max-side must be at least 32"),
        (["--use", "C"], "invalid choice: 'C'"),
    ],
)
def test_batch_command_rejects_bad_options(inputs, tiny_branch_dirs, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main(batch_args(inputs, tiny_branch_dirs, tmp_path / "out", *extra))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_batch_command_rejects_bad_inputs(inputs, tiny_branch_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(batch_args(inputs, tiny_branch_dirs, out, "--classes", "7")) == 2
    assert "--classes 7: the models offer ['13', '16']" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(batch_args(tmp_path / "missing", tiny_branch_dirs, out))
    assert "inputs not found" in capsys.readouterr().err

    random_image(10, 10).save(tmp_path / "plain.jpg")
    assert main([str(inputs), str(tmp_path / "plain.jpg"), "--out", str(out)]) == 2
    assert "would both write plain.png" in capsys.readouterr().err

    assert main([str(inputs), "--out", str(out), "--model-a", str(tmp_path / "nowhere"), "--use", "A"]) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert not out.exists()


def test_batch_command_refuses_a_bad_out_before_loading_models(inputs, tmp_path, capsys):
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"a file, not a folder")
    (tmp_path / "out" / "labels").parent.mkdir()
    (tmp_path / "out" / "labels").write_text("a file where the labels folder goes")
    nowhere = ["--model-a", str(tmp_path / "nowhere"), "--use", "A"]  # loading it would fail with another message
    for out, problem in (
        (taken, f"--out {taken}: {taken} is a file, not a folder"),
        (taken / "sub", f"--out {taken / 'sub'}: {taken} is a file, not a folder"),
        (tmp_path / "out", f"--out {tmp_path / 'out'}: {tmp_path / 'out' / 'labels'} is a file, not a folder"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([str(inputs), "--out", str(out), *nowhere])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert problem in err and "cannot load model" not in err and "Traceback" not in err
    assert taken.read_bytes() == b"a file, not a folder"


def test_layers_zip_leaves_out_classes_of_a_few_pixels():
    labels = np.zeros((100, 100), np.uint8)
    labels[:50] = 1  # hair: 50%
    labels[99, 99] = 3  # eyes: one pixel, 0.01%
    labels[0, :20] = 9  # top: 0.2%
    image = np.full((100, 100, 3), 128, np.uint8)
    with zipfile.ZipFile(io.BytesIO(layers_zip(image, labels, SCHEMA_16))) as zf:
        assert sorted(zf.namelist()) == ["00_background.png", "01_hair.png", "09_top.png"]
    with zipfile.ZipFile(io.BytesIO(layers_zip(image, labels, SCHEMA_16, min_share=0))) as zf:
        assert "03_eyes.png" in zf.namelist()


def test_training_evaluation_scores_the_maps_predict_makes_of_pictures_that_are_not_square(tiny_branch_dirs):
    """Training's metrics and the app share one rule, framing included: the confusion matrices of
    ``evaluate`` on a tall and a wide picture are those of ``predict``'s label maps (their frames
    differ in size, so one batch runs them one by one)."""
    import datasets
    from accelerate import Accelerator

    from animeparse.branches import USES
    from animeparse.evaluation import eval_loader, evaluate
    from animeparse.labels import remap_table
    from animeparse.metrics import confusion_matrix

    # training measures the plain forward pass, as pipeline() gives it
    branches = load_branches({name: str(path) for name, path in tiny_branch_dirs.items()}, flip=False)
    images = [random_image(72, 40, seed=5), random_image(30, 64, seed=6)]
    labels = [np.random.default_rng(i).integers(0, 16, (im.height, im.width)).astype(np.uint8) for i, im in enumerate(images)]
    expected = []
    for image, label in zip(images, labels):  # before evaluate, which leaves the models in training mode
        prediction = predict(branches, image, ENSEMBLE)
        expected.append([confusion_matrix(torch.from_numpy(prediction.labels(use, SCHEMA_16).astype(np.int64)),
                                          torch.from_numpy(label.astype(np.int64)), 16) for use in USES])
    rows = datasets.Dataset.from_dict({"image": images, "label": [Image.fromarray(x) for x in labels]})
    rows = rows.cast_column("image", datasets.Image()).cast_column("label", datasets.Image())
    (model_a, processor), (model_b, _) = branches["A"], branches["B"]
    loader, _ = eval_loader(rows, processor, remap_table(SCHEMA_16, SCHEMA_16), 16, batch_size=2)
    cms, _ = evaluate(Accelerator(cpu=True), model_a, model_b, loader, SCHEMA_16)
    for i, per_use in enumerate(expected):
        for u, cm in enumerate(per_use):
            assert torch.equal(cms[SCHEMA_16.name][i, u], cm), (i, USES[u])
