"""The closer look at faces: which views a parse gets, and how they change its label maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, count_forwards
from PIL import Image
from transformers import SegformerForSemanticSegmentation

from animeparse.branches import ENSEMBLE
from animeparse.faces import MAX_VIEWS, VIEW_CONTEXT, face_views
import animeparse.inference as inference
from animeparse.inference import Prediction, branch_logits, class_scores, load_branches, model_schema, predict
from animeparse.labels import SCHEMA_13, SCHEMA_16, Schema
from animeparse.model import make_processor, model_input, save_model, scratch_config
from animeparse.synth import render

FACE, EYES, HAIR = (SCHEMA_16.names.index(n) for n in ("face", "eyes", "hair"))
DEFAULT_MODELS = Path(__file__).resolve().parent.parent / "models" / "animeparse-b0"


def face(labels: np.ndarray, top: int, left: int, side: int) -> None:
    """Paint a square face with two eyes (one patch of face parts) on ``labels``."""
    labels[top : top + side, left : left + side] = FACE
    labels[top + side // 3 : top + side // 2, left + side // 5 : left + 2 * side // 5] = EYES
    labels[top + side // 3 : top + side // 2, left + 3 * side // 5 : left + 4 * side // 5] = EYES


def test_face_views_frame_each_face_in_a_square_largest_first():
    labels = np.full((400, 600), HAIR, np.uint8)  # hair is no face part
    face(labels, 96, 80, 40)  # on the 8-px grid faces are found on, so the boxes are exact
    face(labels, 200, 400, 64)
    labels[10:14, 500:504] = FACE  # a speck: under MIN_FACE_SHARE of the picture
    views = face_views(labels, SCHEMA_16)
    assert len(views) == 2
    for (top, left, bottom, right), (cy, cx, side) in zip(views, [(232, 432, 64), (116, 100, 40)]):
        assert bottom - top == right - left == round(VIEW_CONTEXT * side)  # square, room to spare here
        assert abs((top + bottom) / 2 - cy) <= 1 and abs((left + right) / 2 - cx) <= 1  # centered on the face


def test_face_views_stay_inside_the_picture_and_skip_what_needs_no_closer_look():
    labels = np.zeros((300, 300), np.uint8)
    face(labels, 0, 280, 16)  # in the top right corner
    (top, left, bottom, right), = face_views(labels, SCHEMA_16)
    half = 16 * VIEW_CONTEXT / 2
    assert (top, left, bottom, right) == (0, round(288 - half), round(8 + half), 300)
    big = np.zeros((300, 300), np.uint8)
    face(big, 60, 60, 120)  # its view would cover most of the picture
    assert face_views(big, SCHEMA_16) == []
    many = np.zeros((600, 600), np.uint8)
    for i in range(6):
        face(many, 16 + 96 * i, 16 + 96 * i, 32 + 8 * i)
    views = face_views(many, SCHEMA_16)
    assert len(views) == MAX_VIEWS and views[0][0] > views[-1][0]  # the largest (lowest) faces
    bare = np.zeros((300, 300), np.uint8)
    bare[96:144, 96:144] = FACE  # face-colored skin without eyes, eyebrows or mouth: arms taken for a face
    assert face_views(bare, SCHEMA_16) == []
    no_faces = Schema.from_id2label({0: "background", 1: "character"})
    assert face_views(np.ones((100, 100), np.uint8), no_faces) == []


@pytest.fixture(scope="module")
def branches(tmp_path_factory):
    """Two tiny models drawn with wide weights, so that their maps vary over a picture as a trained
    model's do (training's initialisation gives nearly one class everywhere)."""
    dirs = {}
    for seed, name in enumerate("AB"):
        torch.manual_seed(seed)
        dirs[name] = str(tmp_path_factory.mktemp(f"wide_{name}"))
        model = SegformerForSemanticSegmentation(scratch_config("b0", SCHEMA_16, **TINY, initializer_range=0.3))
        save_model(model, make_processor(64), dirs[name])
    return load_branches(dirs)


def test_a_closer_look_averages_its_probabilities_into_its_view(branches, monkeypatch):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8))
    views = [(10, 20, 50, 60), (0, 0, 40, 40), (30, 50, 60, 90)]  # overlapping; two of one size, one wider
    calls = count_forwards(branches)
    prepared = []
    monkeypatch.setattr(inference, "model_input", lambda p, img: prepared.append(img.size) or model_input(p, img))
    prediction = Prediction(np.asarray(image), model_schema(branches["A"][0]), zoom=True, views=views).run(branches, ENSEMBLE)
    assert calls == {"A": 1 + 2, "B": 1 + 2}  # the picture, then one batch per view shape
    assert len(prepared) == 1 + len(views)  # both branches share one processor: each picture prepared once
    for name, (model, processor) in branches.items():  # each view: one plain forward pass on its crop
        for (top, left, bottom, right), logits in zip(views, prediction.view_logits[name]):
            alone = branch_logits((model.model, processor), image.crop((left, top, right, bottom)))
            torch.testing.assert_close(logits, alone, atol=1e-4, rtol=1e-4)
    for schema in (SCHEMA_16, SCHEMA_13):
        full = class_scores([prediction.logits[b] for b in "AB"], (60, 90), SCHEMA_16, schema)
        total = full.clone()
        for (top, left, bottom, right), (la, lb) in zip(views, zip(*(prediction.view_logits[b] for b in "AB"))):
            total[:, top:bottom, left:right] += class_scores([la, lb], (bottom - top, right - left), SCHEMA_16, schema)
        inside = torch.zeros(60, 90, dtype=torch.bool)
        for top, left, bottom, right in views:
            inside[top:bottom, left:right] = True
        expected = torch.where(inside, total.argmax(0), full.argmax(0)).numpy()
        top2 = torch.where(inside, total.topk(2, 0).values.diff(dim=0)[0].abs(), torch.ones(60, 90))
        clear = (top2 > 1e-4).numpy()  # the views' region is upsampled on its own: equal to float rounding
        labels = prediction.labels(ENSEMBLE, schema)
        np.testing.assert_array_equal(labels[clear], expected[clear])
        assert (labels[inside.numpy()] != prediction.first_look(ENSEMBLE, schema)[inside.numpy()]).any()
        np.testing.assert_array_equal(labels[~inside.numpy()], prediction.first_look(ENSEMBLE, schema)[~inside.numpy()])


def test_zoom_finds_the_faces_of_a_rendered_character_and_changes_only_their_views():
    """The default pair on a renderer picture of a whole figure: its face gets a view, the label
    maps change only there, and a branch run later (B after A) gets its closer look too."""
    pair = load_branches({"A": str(DEFAULT_MODELS / "model_a"), "B": str(DEFAULT_MODELS / "model_b")})
    image = render(5, 384, style="color", framing="full", difficulty="easy", effects=False).image
    prediction = predict(pair, image, "A", zoom=True)
    assert prediction.views and list(prediction.view_logits) == ["A"]
    (top, left, bottom, right), *_ = prediction.views
    first = prediction.first_look("A", SCHEMA_16)
    assert np.isin(first[top:bottom, left:right], [FACE, EYES]).any()
    labels = prediction.labels("A", SCHEMA_16)
    outside = np.ones(first.shape, bool)
    for t, l, b, r in prediction.views:
        outside[t:b, l:r] = False
    np.testing.assert_array_equal(labels[outside], first[outside])
    assert (labels != first).any()
    prediction.run(pair, ENSEMBLE)
    assert sorted(prediction.view_logits) == ["A", "B"] and len(prediction.view_logits["B"]) == len(prediction.views)
    plain = predict(pair, image, ENSEMBLE)
    assert (prediction.labels(ENSEMBLE, SCHEMA_16) != plain.labels(ENSEMBLE, SCHEMA_16)).any()


def test_batch_command_zooms_on_faces_unless_told_not_to(tmp_path):
    from animeparse.predict import main

    image = render(5, 384, style="color", framing="full", difficulty="easy", effects=False).image
    (tmp_path / "in").mkdir()
    image.save(tmp_path / "in" / "figure.png")
    for flag, out in ((None, "zoomed"), ("--no-zoom-faces", "plain")):
        assert main([str(tmp_path / "in"), "--out", str(tmp_path / out), "--use", "A", *([flag] if flag else [])]) == 0
    zoomed, plain = (np.asarray(Image.open(tmp_path / out / "labels" / "figure.png")) for out in ("zoomed", "plain"))
    pair = load_branches({"A": str(DEFAULT_MODELS / "model_a")})
    np.testing.assert_array_equal(zoomed, predict(pair, Image.open(tmp_path / "in" / "figure.png"), "A", zoom=True).labels("A", SCHEMA_16))
    assert (zoomed != plain).any()
