"""Evaluating the two co-trained branches on a split, as training and the model cards report it.

Label maps are made by :func:`animeparse.inference.label_tensor`, the rule the app and the batch
command use, under the trained schema and under each of its merges: a 13-class metric measures
the 13-class maps a user gets (members' probabilities summed before the argmax), not 16-class
maps merged afterwards.
"""

from __future__ import annotations

from typing import Sequence

import datasets
import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import SegformerImageProcessorPil

from animeparse.branches import USES, needed_branches
from animeparse.inference import label_tensor
from animeparse.labels import Schema, remap_table, schema_choices
from animeparse.metadata import ordered_difficulties
from animeparse.metrics import confusion_matrices, summarize, summarize_groups
from animeparse.transforms import EvalTransform, pad_collate

Evaluation = tuple[dict[str, torch.Tensor], torch.Tensor]
"""Per-image confusion matrices (n, len(USES), C, C) for each schema name, and each image's group."""


def eval_loader(
    split: datasets.Dataset, processor: SegformerImageProcessorPil, table: np.ndarray, num_source_classes: int,
    batch_size: int, num_workers: int = 0,
) -> tuple[DataLoader, list[str]]:
    """Batches of a labeled split for :func:`evaluate` (labels remapped by ``table`` from the
    dataset's ids), and the split's difficulty levels, easy to hard, for per-difficulty metrics."""
    difficulties = ordered_difficulties(split["difficulty"]) if "difficulty" in split.column_names else []
    group_column = "difficulty" if difficulties else None
    rows = split.select_columns(["image", "label"] + ([group_column] if group_column else [])).with_transform(
        EvalTransform(processor, table, num_source_classes, group_column, difficulties)
    )
    return DataLoader(rows, batch_size=batch_size, collate_fn=pad_collate, num_workers=num_workers), difficulties


def image_confusions(
    logits: dict[str, torch.Tensor], labels: torch.Tensor, schema: Schema, views: Sequence[Schema]
) -> dict[str, torch.Tensor]:
    """Confusion matrices (len(USES), C, C) of one image for each schema of ``views``: its
    branches' (C, h, w) ``logits`` against its (H, W) ``labels`` in ``schema``'s ids."""
    size = tuple(labels.shape)
    out = {}
    for view in views:
        lut = torch.as_tensor(remap_table(schema, view).astype(np.int64), device=labels.device)
        target = labels.long() if view == schema else lut[labels.long()]
        # on the labels' device: the logits' own, so an accelerator's maps never visit the host
        preds = torch.stack([label_tensor([logits[b] for b in needed_branches(use)], size, schema, view).long() for use in USES])
        out[view.name] = confusion_matrices(preds, target.expand(len(USES), *size), view.num_classes)
    return out


@torch.no_grad()
def evaluate(accelerator: Accelerator, model_a, model_b, loader, schema: Schema) -> Evaluation:
    """Per-image confusion matrices of A, B and A+B over a whole split (batches from
    :func:`animeparse.transforms.pad_collate`), for the schema and each of its merges; each
    image's group. gather_for_metrics drops the samples padded onto the last batches."""
    views = list(schema_choices(schema).values())
    model_a.eval()
    model_b.eval()
    cms: dict[str, list[torch.Tensor]] = {view.name: [] for view in views}
    groups = []
    for batch in loader:
        logits = {"A": _logits(model_a, batch["pixel_values"]), "B": _logits(model_b, batch["pixel_values"])}
        per_image = [
            image_confusions({b: v[i] for b, v in logits.items()}, batch["labels"][i, :h, :w], schema, views)
            for i, (h, w) in enumerate(batch["sizes"].tolist())
        ]
        for view in views:
            cms[view.name].append(accelerator.gather_for_metrics(torch.stack([c[view.name] for c in per_image])))
        groups.append(accelerator.gather_for_metrics(batch["group"]))
    model_a.train()
    model_b.train()
    return {name: torch.cat(parts).cpu() for name, parts in cms.items()}, torch.cat(groups).cpu()


def _logits(model, pixel_values: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """A batch's logits; one by one where its frames differ in size (a list, from :func:`pad_collate`)."""
    if torch.is_tensor(pixel_values):
        return model(pixel_values=pixel_values).logits
    return [model(pixel_values=p[None]).logits[0] for p in pixel_values]


def summarize_split(evaluation: Evaluation, difficulties: list[str], schema: Schema) -> dict:
    """metrics.json entry of one split: every variant, overall and per difficulty, under the
    trained schema and each of its merges."""
    cms, groups = evaluation
    views = {view.name: view.names for view in schema_choices(schema).values()}
    return {
        "num_images": len(groups),
        "schemas": {
            name: {
                use: {**summarize(cms[name][:, v].sum(0), names), "per_difficulty": summarize_groups(cms[name][:, v], groups, difficulties, names)}
                for v, use in enumerate(USES)
            }
            for name, names in views.items()
        },
    }
