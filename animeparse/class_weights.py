"""Class weights for the supervised loss, from how often each class covers a pixel.

Small parts (eyes, mouth, eyebrows, accessories) cover a few percent of a picture or less, so
the plain cross-entropy is ruled by background, hair and clothes, and a model that never
predicts an eyebrow loses almost nothing. Weighting class c by ``frequency_c ** -power``
(``power`` 0.5 is the usual softened inverse frequency) makes each pixel of a rare class count
more, without the noise of full inverse frequency (``power`` 1) on classes seen a few hundred
pixels in all.
"""

from __future__ import annotations

import datasets
import numpy as np

from animeparse.labels import IGNORE_INDEX
from animeparse.transforms import label_array

MAX_WEIGHT = 10.0
"""No class weighs more than this many times the average pixel: a class almost absent from the
sample (or absent: frequency 0) would otherwise take over the loss."""


def class_frequencies(
    labeled: datasets.Dataset, table: np.ndarray, num_source_classes: int, num_classes: int,
    max_images: int = 500, seed: int = 0,
) -> np.ndarray:
    """Fraction of the labeled pixels that each trained class covers, over up to ``max_images``
    rows of ``labeled`` picked by ``seed`` (the same rows every time). Ignored pixels are not
    counted."""
    if len(labeled) == 0:
        raise ValueError("no labeled images to count class frequencies on")
    rows = np.random.default_rng(seed).permutation(len(labeled))[:max_images]
    counts = np.zeros(num_classes, dtype=np.int64)
    for row in labeled.select(np.sort(rows)).select_columns(["label"]):
        label = row["label"]
        ids = label_array(label, table, num_source_classes, label.size)
        counts += np.bincount(ids[ids != IGNORE_INDEX].ravel(), minlength=256)[:num_classes]
    if counts.sum() == 0:
        raise ValueError(f"the {len(rows)} sampled labels hold no labeled pixel")
    return counts / counts.sum()


def balanced_weights(frequencies: np.ndarray, power: float, max_weight: float = MAX_WEIGHT) -> np.ndarray:
    """Weights ``frequency ** -power``, scaled so that the average labeled pixel weighs 1 (the
    loss keeps its scale, and with it the learning rate's meaning), then capped at ``max_weight``.
    ``power`` 0 gives all ones."""
    if power < 0:
        raise ValueError(f"class weight power must be 0 or more, got {power}")
    frequencies = np.asarray(frequencies, dtype=np.float64)
    present = frequencies > 0
    weights = np.ones_like(frequencies)
    weights[present] = frequencies[present] ** -power
    weights /= (frequencies * weights).sum()
    weights[~present] = max_weight
    return np.minimum(weights, max_weight)
