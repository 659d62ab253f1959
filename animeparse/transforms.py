"""Dataset rows -> model tensors, for training and evaluation.

Rows come from an animeparse Datasets repo (``image``, ``label`` as a mode-L or palette PNG of
class ids, metadata such as ``difficulty``). Images pass through :func:`animeparse.images.load_rgb`
(size limits, transparency, EXIF) and are normalised by the same ``SegformerImageProcessor``
that is saved beside the models, so training, evaluation and ``pipeline(...)`` agree (on square
pictures; evaluation pads others to a square, as the app does).
Labels are checked against the dataset's schema and remapped to the schema being trained.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from transformers import SegformerImageProcessorPil

from animeparse.augment import Augment
from animeparse.images import load_rgb, pad_to_frame
from animeparse.labels import IGNORE_INDEX, remap
from animeparse.model import model_input


def label_array(label: Image.Image, table: np.ndarray, num_source_classes: int, size: tuple[int, int]) -> np.ndarray:
    """A label image as a (H, W) uint8 array of target ids: checked, then remapped by ``table``.

    ``size`` is its image's (width, height); labels must match it pixel for pixel.
    """
    if label is None:
        raise ValueError("a labeled row has no label image")
    if label.mode not in ("L", "P"):
        raise ValueError(f"label images must hold class ids (mode L or P), got mode {label.mode}")
    if label.size != size:
        raise ValueError(f"label is {label.size[0]}x{label.size[1]} but its image is {size[0]}x{size[1]}")
    ids = np.asarray(label)
    bad = np.unique(ids[(ids >= num_source_classes) & (ids != IGNORE_INDEX)])
    if bad.size:
        raise ValueError(f"label has class ids {bad[:10].tolist()} outside the dataset's {num_source_classes} classes")
    return remap(ids, table)


@dataclass(frozen=True)
class TrainTransform:
    """Augmented, normalised crops: ``pixel_values`` and, for labeled rows, ``labels``.

    Use with ``Dataset.with_transform``; ``table`` is None for unlabeled rows. Each image draws
    its augmentation from the torch RNG, which the data loader seeds per worker and per epoch
    and training checkpoints restore.
    """

    augment: Augment
    processor: SegformerImageProcessorPil
    table: np.ndarray | None = None
    num_source_classes: int = 0

    def __call__(self, batch: dict) -> dict:
        images, labels = [], []
        for i, image in enumerate(batch["image"]):
            image = load_rgb(image, name="training image")
            mask = None
            if self.table is not None:
                mask = Image.fromarray(label_array(batch["label"][i], self.table, self.num_source_classes, image.size))
            rng = random.Random(int(torch.randint(0, 2**62, ())))
            image, mask = self.augment(image, mask, rng)
            images.append(image)
            labels.append(mask)
        out = {"pixel_values": list(self.processor(images=images, do_resize=False, return_tensors="pt")["pixel_values"])}
        if self.table is not None:
            out["labels"] = [torch.from_numpy(np.array(m, dtype=np.uint8)) for m in labels]
        return out


@dataclass(frozen=True)
class EvalTransform:
    """Whole images framed (:func:`animeparse.images.pad_to_frame`) and made the pixel values by
    :func:`animeparse.model.model_input`, as the app and the batch command see them
    (:func:`animeparse.inference.branch_logits`), labels at their own size, and
    each row's group index (e.g. difficulty) for per-group metrics."""

    processor: SegformerImageProcessorPil
    table: np.ndarray
    num_source_classes: int
    group_column: str | None = None
    group_names: Sequence[str] = ()

    def __call__(self, batch: dict) -> dict:
        images = [load_rgb(image, name="evaluation image") for image in batch["image"]]
        labels = [
            torch.from_numpy(label_array(label, self.table, self.num_source_classes, image.size))
            for label, image in zip(batch["label"], images)
        ]
        groups = batch[self.group_column] if self.group_column else [None] * len(images)
        return {
            "pixel_values": [torch.from_numpy(model_input(self.processor, pad_to_frame(i))[0]) for i in images],
            "labels": labels,
            "group": [self.group_names.index(g) if g in self.group_names else -1 for g in groups],
        }


def pad_collate(rows: list[dict]) -> dict:
    """Stack an evaluation batch; labels of different sizes are padded with IGNORE_INDEX and
    ``sizes`` keeps each one's (height, width). Pixel values of frames of different sizes (a wide
    picture among squares) stay a list, for the models to run one by one."""
    height = max(r["labels"].shape[0] for r in rows)
    width = max(r["labels"].shape[1] for r in rows)
    labels = torch.full((len(rows), height, width), IGNORE_INDEX, dtype=torch.uint8)
    pixels = [r["pixel_values"] for r in rows]
    for i, r in enumerate(rows):
        labels[i, : r["labels"].shape[0], : r["labels"].shape[1]] = r["labels"]
    return {
        "pixel_values": torch.stack(pixels) if len({p.shape for p in pixels}) == 1 else pixels,
        "labels": labels,
        "sizes": torch.tensor([tuple(r["labels"].shape) for r in rows]),
        "group": torch.tensor([r["group"] for r in rows]),
    }
