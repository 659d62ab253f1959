"""animeparse.calibration: per-class logit offsets fitted on a split and folded into the classifier bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from animeparse.calibration import ensemble_labels, fit_offsets, fold_offsets, present_mean_iou, split_logits
from animeparse.inference import load_branches
from animeparse.labels import IGNORE_INDEX
from conftest import tiny_model

TRUTH = torch.randint(0, 4, (6, 8, 8), generator=torch.Generator().manual_seed(0))
"""(n, h, w) truth with classes 0-3 of a 5-class model: class 4 is never in it."""


def biased_logits(shift: dict[int, float], seed: int) -> torch.Tensor:
    """(n, 5, h, w) logits that pick TRUTH's class by a margin of about 1, plus a per-class ``shift``."""
    noise = torch.rand(*TRUTH.shape[:1], 5, *TRUTH.shape[1:], generator=torch.Generator().manual_seed(seed))
    logits = torch.nn.functional.one_hot(TRUTH, 5).permute(0, 3, 1, 2).float() + 0.1 * noise
    for c, v in shift.items():
        logits[:, c] += v
    return logits


def test_fit_offsets_undoes_a_class_bias_and_leaves_absent_classes_alone():
    # both branches call class 2 about 1.5 too high (it wins everywhere); class 4 is absent from the truth
    a, b = biased_logits({2: 1.5, 4: 0.5}, seed=1), biased_logits({2: 1.5, 4: 0.5}, seed=2)
    offsets, before, after, present = fit_offsets([a, b], TRUTH, 5)
    assert present == [0, 1, 2, 3]
    assert before < 0.5 and after == pytest.approx(1.0)
    assert float(offsets[4]) == 0.0
    assert torch.equal(ensemble_labels([a, b], offsets), TRUTH)
    # nothing to correct: no offsets
    clean = biased_logits({}, seed=1)
    offsets, before, after, _ = fit_offsets([clean, clean], TRUTH, 5)
    assert before == after == pytest.approx(1.0) and not offsets.any()


def test_present_mean_iou_counts_only_the_given_classes():
    truth = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1]])
    assert present_mean_iou(pred, truth, [0, 1], 3) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert present_mean_iou(pred, truth, [0], 3) == pytest.approx(1 / 2)


def test_folded_offsets_shift_the_models_logits_by_exactly_the_offsets():
    model = tiny_model().eval()
    x = torch.rand(1, 3, 32, 32)
    offsets = torch.linspace(-1, 1, 16)
    with torch.no_grad():
        before = model(pixel_values=x).logits
        fold_offsets(model, offsets)
        after = model(pixel_values=x).logits
    torch.testing.assert_close(after - before, offsets.view(1, -1, 1, 1).expand_as(before), atol=1e-5, rtol=0)


def test_split_logits_places_the_truth_of_any_picture_where_the_models_see_it(tiny_branch_dirs):
    """A tall picture is padded to a square for the models: its truth sits in the middle of the
    square at the logits' resolution, the margins ignored. A wide one is seen as it is, at twice
    the width; a wider one is padded to 2:1. All pixels make one row."""
    branches = load_branches({name: str(path) for name, path in tiny_branch_dirs.items()})
    label = np.full((64, 32), 3, np.uint8)
    label[:32] = 1
    rows = [{"image": Image.new("RGB", (32, 64), "white"), "label": Image.fromarray(label)},
            {"image": Image.new("RGB", (64, 64), "white"), "label": Image.fromarray(np.full((64, 64), 2, np.uint8))},
            {"image": Image.new("RGB", (128, 64), "white"), "label": Image.fromarray(np.full((64, 128), 4, np.uint8))},
            {"image": Image.new("RGB", (128, 32), "white"), "label": Image.fromarray(np.full((32, 128), 5, np.uint8))}]
    table = np.arange(256, dtype=np.uint8)
    logits, truth = split_logits(branches, rows, table)
    sizes = [(16, 16), (16, 16), (16, 32), (16, 32)]  # the tiny models see 64 px high
    n = sum(h * w for h, w in sizes)
    assert logits["A"].shape == logits["B"].shape == (1, 16, 1, n) and truth.shape == (1, 1, n)
    maps = torch.split(truth[0, 0], [h * w for h, w in sizes])
    tall, square, wide, wider = (m.view(h, w) for m, (h, w) in zip(maps, sizes))
    assert (tall[:, :4] == IGNORE_INDEX).all() and (tall[:, 12:] == IGNORE_INDEX).all()
    assert (tall[:8, 4:12] == 1).all() and (tall[8:, 4:12] == 3).all()
    assert (square == 2).all() and (wide == 4).all()
    assert (wider[:4] == IGNORE_INDEX).all() and (wider[4:12] == 5).all() and (wider[12:] == IGNORE_INDEX).all()
