import evaluate
import numpy as np
import pytest
import torch

from animeparse.labels import IGNORE_INDEX, MERGE_16_TO_13, SCHEMA_13, SCHEMA_16, remap
from animeparse.metrics import (
    EVALUATE_MODULE,
    confusion_matrices,
    confusion_matrix,
    merge_confusion,
    summarize,
    summarize_groups,
)

# 3 classes; 255 = ignore. Rows of the confusion matrix are true classes, columns predictions.
TARGET = torch.tensor([[0, 0, 1, 1], [1, 2, 2, 255]])
PRED = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
# counted by hand from the 7 pixels that are not ignored:
#   true 0: pred 0, pred 1          true 1: pred 1, pred 1, pred 2          true 2: pred 2, pred 0
HAND_CM = [[1, 1, 0], [0, 2, 1], [1, 0, 1]]


def test_confusion_matrix_matches_hand_count():
    cm = confusion_matrix(PRED, TARGET, 3)
    assert cm.tolist() == HAND_CM and cm.dtype == torch.int64


def test_summary_matches_hand_computed_iou_and_accuracy():
    result = summarize(torch.tensor(HAND_CM), ["bg", "hair", "face"])
    # IoU = tp / (row + column - tp): bg 1/(2+2-1), hair 2/(3+3-2), face 1/(2+2-1)
    assert result["per_category_iou"] == pytest.approx({"bg": 1 / 3, "hair": 1 / 2, "face": 1 / 3})
    assert result["mean_iou"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 3) / 3)
    assert result["per_category_accuracy"] == pytest.approx({"bg": 1 / 2, "hair": 2 / 3, "face": 1 / 2})
    assert result["overall_accuracy"] == pytest.approx(4 / 7)


def test_absent_classes_are_none_and_left_out_of_the_mean():
    cm = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), 4)
    result = summarize(cm, ["a", "b", "c", "d"])
    assert result["per_category_iou"] == {"a": 1.0, "b": 1.0, "c": None, "d": None}
    assert result["mean_iou"] == 1.0
    # predicted but never true: IoU 0 (counted), accuracy None (no true pixels)
    cm = confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 0]), 3)
    result = summarize(cm, ["a", "b", "c"])
    assert result["per_category_iou"]["c"] == 0.0 and result["per_category_accuracy"]["c"] is None
    assert result["mean_iou"] == pytest.approx(0.25)


def test_values_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"label values \[7\] are outside 0..2"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([7, 1]), 3)
    with pytest.raises(ValueError, match=r"prediction values \[3\]"):
        confusion_matrix(torch.tensor([3, 1]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(torch.zeros(2, 2), torch.zeros(2, 3), 3)
    # a wrong prediction on an ignored pixel is not an error: it is not counted
    assert confusion_matrix(torch.tensor([9]), torch.tensor([IGNORE_INDEX]), 3).sum() == 0


def test_per_image_matrices_add_up_to_the_overall_one():
    gen = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 5, (4, 9, 7), generator=gen)
    target = torch.randint(0, 5, (4, 9, 7), generator=gen)
    target[0, :3] = IGNORE_INDEX
    cms = confusion_matrices(pred, target, 5)
    assert cms.shape == (4, 5, 5)
    assert torch.equal(cms.sum(0), confusion_matrix(pred, target, 5))
    for i in range(4):
        assert torch.equal(cms[i], confusion_matrix(pred[i], target[i], 5))


def test_merging_the_matrix_equals_remapping_the_maps():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 16, (3, 20, 20))
    target = rng.integers(0, 16, (3, 20, 20))
    target[:, :2] = IGNORE_INDEX
    cm16 = confusion_matrices(torch.from_numpy(pred), torch.from_numpy(target), 16)
    merged = merge_confusion(cm16, MERGE_16_TO_13, SCHEMA_13.num_classes)
    direct = confusion_matrices(
        torch.from_numpy(remap(pred, MERGE_16_TO_13)), torch.from_numpy(remap(target, MERGE_16_TO_13)), 13
    )
    assert torch.equal(merged, direct)
    # eyes and eyebrows are one class in 13: an eyebrow predicted as eye is right there
    cm = confusion_matrix(torch.tensor([3]), torch.tensor([4]), 16)
    assert summarize(cm, SCHEMA_16.names)["overall_accuracy"] == 0.0
    assert summarize(merge_confusion(cm, MERGE_16_TO_13, 13), SCHEMA_13.names)["overall_accuracy"] == 1.0


def test_groups_summarize_their_own_images():
    gen = torch.Generator().manual_seed(1)
    pred = torch.randint(0, 3, (5, 6, 6), generator=gen)
    target = torch.randint(0, 3, (5, 6, 6), generator=gen)
    cms = confusion_matrices(pred, target, 3)
    groups = torch.tensor([0, 2, 0, 2, -1])  # -1: an image with no known difficulty
    result = summarize_groups(cms, groups, ["easy", "medium", "hard"], ["a", "b", "c"])
    assert list(result) == ["easy", "hard"]  # no medium image
    assert result["easy"]["num_images"] == 2
    assert result["easy"]["mean_iou"] == summarize(cms[[0, 2]].sum(0), ["a", "b", "c"])["mean_iou"]
    assert result["hard"]["per_category_iou"] == summarize(cms[[1, 3]].sum(0), ["a", "b", "c"])["per_category_iou"]


def test_evaluate_module_gives_the_same_numbers():
    metric = evaluate.load(str(EVALUATE_MODULE))
    rng = np.random.default_rng(2)
    preds = [rng.integers(0, 4, (8, 10)), rng.integers(0, 4, (12, 6))]  # sizes may differ
    refs = [rng.integers(0, 4, (8, 10)), rng.integers(0, 4, (12, 6))]
    refs[1][0] = IGNORE_INDEX
    names = ["bg", "hair", "face", "eyes"]
    result = metric.compute(predictions=preds, references=refs, num_labels=4, label_names=names)
    total = sum(confusion_matrix(torch.from_numpy(p), torch.from_numpy(r), 4) for p, r in zip(preds, refs))
    assert result == summarize(total, names)
    hand = metric.compute(predictions=[PRED.numpy()], references=[TARGET.numpy()], num_labels=3)
    assert hand["mean_iou"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 3) / 3)
    assert list(hand["per_category_iou"]) == ["0", "1", "2"]
