import datasets
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from animeparse.class_weights import MAX_WEIGHT, balanced_weights, class_frequencies
from animeparse.cps import segmentation_ce
from animeparse.labels import IGNORE_INDEX, MERGE_16_TO_13, SCHEMA_16, SCHEMA_13, remap_table


def labels_dataset(maps: list[np.ndarray]) -> datasets.Dataset:
    features = datasets.Features({"label": datasets.Image()})
    return datasets.Dataset.from_dict({"label": [Image.fromarray(m.astype(np.uint8)) for m in maps]}, features=features)


def test_frequencies_count_labeled_pixels_in_the_trained_classes():
    first = np.zeros((4, 5), np.uint8)
    first[0, :2] = 3  # eyes
    first[1, :] = IGNORE_INDEX
    second = np.full((4, 5), 4, np.uint8)  # eyebrows
    data = labels_dataset([first, second])
    identity = remap_table(SCHEMA_16, SCHEMA_16)
    freq = class_frequencies(data, identity, 16, 16)
    counted = 15 + 20  # the ignored row is not counted
    assert freq[0] == pytest.approx(13 / counted) and freq[3] == pytest.approx(2 / counted)
    assert freq[4] == pytest.approx(20 / counted) and freq.sum() == pytest.approx(1.0)
    # in the merged schema, eyebrows count with the class they merge into
    merged = class_frequencies(data, MERGE_16_TO_13, 16, SCHEMA_13.num_classes)
    assert merged.sum() == pytest.approx(1.0) and merged[0] == pytest.approx(freq[0])
    assert merged[MERGE_16_TO_13[4]] == pytest.approx(freq[MERGE_16_TO_13[:16] == MERGE_16_TO_13[4]].sum())


def test_frequencies_sample_at_most_max_images_the_same_way_every_time():
    maps = [np.full((2, 2), i, np.uint8) for i in range(10)]  # image i is all class i
    table = remap_table(SCHEMA_16, SCHEMA_16)
    a = class_frequencies(labels_dataset(maps), table, 16, 16, max_images=4, seed=1)
    assert np.count_nonzero(a) == 4 and np.allclose(a[a > 0], 0.25)
    assert np.array_equal(a, class_frequencies(labels_dataset(maps), table, 16, 16, max_images=4, seed=1))


def test_frequencies_of_nothing_labeled_is_an_error():
    table = remap_table(SCHEMA_16, SCHEMA_16)
    with pytest.raises(ValueError, match="no labeled pixel"):
        class_frequencies(labels_dataset([np.full((3, 3), IGNORE_INDEX)]), table, 16, 16)


def test_balanced_weights_keep_the_average_pixel_at_one_and_favor_rare_classes():
    freq = np.array([0.7, 0.2, 0.09, 0.01])
    weights = balanced_weights(freq, 0.5)
    assert (freq * weights).sum() == pytest.approx(1.0)
    assert np.all(np.diff(weights) > 0)
    assert weights[3] / weights[0] == pytest.approx(np.sqrt(70))
    assert np.allclose(balanced_weights(freq, 0.0), 1.0)


def test_balanced_weights_cap_rare_and_absent_classes():
    weights = balanced_weights(np.array([0.9999, 0.0001, 0.0]), 1.0)
    assert weights[1] == MAX_WEIGHT and weights[2] == MAX_WEIGHT and weights[0] < 1.01
    with pytest.raises(ValueError, match="power"):
        balanced_weights(np.array([0.5, 0.5]), -1.0)


def test_weighted_loss_counts_each_pixel_by_its_class_weight():
    logits = torch.randn(1, 3, 4, 4)
    labels = torch.randint(0, 3, (1, 4, 4))
    labels[0, 0, 0], labels[0, 0, 1] = 0, 2
    only_class_0 = torch.tensor([1.0, 0.0, 0.0])
    keep = labels == 0
    assert torch.allclose(segmentation_ce(logits, labels, only_class_0),
                          F.cross_entropy(logits.permute(0, 2, 3, 1)[keep], labels[keep]))
    assert torch.allclose(segmentation_ce(logits, labels, torch.ones(3)), segmentation_ce(logits, labels))
