"""Segmentation metrics from confusion matrices: IoU per class, mean IoU, pixel accuracy.

Everything starts from a confusion matrix (rows: true class, columns: predicted class) counted
with ``torch.bincount``. Counts add up, so per-image matrices can be gathered across processes
and summed, grouped by difficulty, or merged into a coarser schema (merging the matrix is the
same as remapping predictions and labels first; training's merged metrics do not do that, they
score the merged maps users get, see :mod:`animeparse.evaluation`). The ``evaluate`` module in
``part_iou/`` wraps these functions, so the math exists once.

Result keys follow ``evaluate``'s ``mean_iou``: ``mean_iou``, ``mean_accuracy``,
``overall_accuracy``, ``per_category_iou``, ``per_category_accuracy``; a class that appears
neither in the labels nor in the predictions has IoU None and is left out of the means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from animeparse.labels import IGNORE_INDEX

EVALUATE_MODULE = Path(__file__).parent / "part_iou"
"""Folder of the ``evaluate`` metric module: ``evaluate.load(str(EVALUATE_MODULE))``."""


def confusion_matrices(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """One (num_classes, num_classes) int64 matrix per image of (n, h, w) label maps: (n, C, C).

    Pixels whose target is ``ignore_index`` are not counted; any other value outside
    0..num_classes-1 is an error, since it would silently shift the counts.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} differs from label shape {tuple(target.shape)}")
    pred, target = pred.long(), target.long()
    n = pred.shape[0]
    keep = target != ignore_index
    for name, values in (("label", target[keep]), ("prediction", pred[keep])):
        if values.numel() and (values.min() < 0 or values.max() >= num_classes):
            bad = sorted(set(values[(values < 0) | (values >= num_classes)].unique().tolist()))
            raise ValueError(f"{name} values {bad[:10]} are outside 0..{num_classes - 1} (and not {ignore_index})")
    image = torch.arange(n, device=pred.device).view(n, *([1] * (pred.dim() - 1))).expand_as(pred)
    index = (image[keep] * num_classes + target[keep]) * num_classes + pred[keep]
    return torch.bincount(index, minlength=n * num_classes * num_classes).view(n, num_classes, num_classes)


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """The (C, C) confusion matrix of label maps of any shape."""
    return confusion_matrices(pred.reshape(1, -1), target.reshape(1, -1), num_classes, ignore_index)[0]


def merge_confusion(cm: torch.Tensor, table: np.ndarray, num_merged: int) -> torch.Tensor:
    """Merge (..., C, C) confusion counts into a coarser schema with a ``labels.remap_table``
    (source id -> merged id; IGNORE_INDEX drops the class from both rows and columns)."""
    c = cm.shape[-1]
    target = torch.as_tensor(np.asarray(table[:c], dtype=np.int64), device=cm.device)
    onehot = torch.zeros(c, num_merged, dtype=torch.float64, device=cm.device)
    kept = target != IGNORE_INDEX
    onehot[kept.nonzero().squeeze(1), target[kept]] = 1.0
    # float64 holds counts exactly up to 2**53 pixels
    return torch.einsum("ck,...cd,dl->...kl", onehot, cm.double(), onehot).round().long()


def _ratio(num: torch.Tensor, den: torch.Tensor) -> list[float | None]:
    return [float(a) / float(b) if b > 0 else None for a, b in zip(num.tolist(), den.tolist())]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def summarize(cm: torch.Tensor, names: Sequence[str]) -> dict:
    """Mean IoU, per-class IoU, pixel accuracy (``overall_accuracy``) and per-class accuracy
    from one (C, C) confusion matrix; per-class values are keyed by class name."""
    cm = cm.double().cpu()
    if cm.shape != (len(names), len(names)):
        raise ValueError(f"confusion matrix is {tuple(cm.shape)} but there are {len(names)} class names")
    tp = cm.diagonal()
    truth, predicted = cm.sum(1), cm.sum(0)
    iou = _ratio(tp, truth + predicted - tp)
    accuracy = _ratio(tp, truth)
    total = float(cm.sum())
    return {
        "mean_iou": _mean(iou),
        "mean_accuracy": _mean(accuracy),
        "overall_accuracy": float(tp.sum()) / total if total else None,
        "per_category_iou": dict(zip(names, iou)),
        "per_category_accuracy": dict(zip(names, accuracy)),
    }


def summarize_groups(cms: torch.Tensor, groups: torch.Tensor, group_names: Sequence[str], names: Sequence[str]) -> dict:
    """:func:`summarize` for each group (e.g. difficulty) of per-image matrices (n, C, C);
    ``groups`` holds each image's index into ``group_names``. Empty groups are left out."""
    out = {}
    for g, group in enumerate(group_names):
        chosen = groups == g
        if chosen.any():
            out[group] = {"num_images": int(chosen.sum()), **summarize(cms[chosen].sum(0), names)}
    return out
