"""Fitting the models' class balance to your own art: per-class logit offsets, fitted on a labeled
split and folded into the models' classifier bias, with no training.

On art unlike their training data the models call some classes too often and others too rarely
(the held-out Live2D characters: background too rarely, accessories too often). One offset per
class, added to the logits, moves every decision boundary by that amount; the offsets are chosen
by coordinate ascent on the split's A+B mean IoU, then added to the bias of each model's final
1x1 classifier, so the result is a plain checkpoint: ``pipeline()``, the app and the batch command
get it at no cost (export ONNX again with ``python -m animeparse.export``).

It fits the characters it sees, not anime art at large: fitted on the real benchmark's validation
pictures, the default pair gained on the test pictures of the same two characters and lost
foreground on the Ren'Py sprites (README, "Fitting the models to your own art"). So fit it on
pictures of the characters you will parse (the app's corrections, say), never on a test split.

Only the classes present in the split's truth get an offset: a class the split never shows
(legs, on characters drawn from the waist up) would otherwise be pushed down until it is never
predicted anywhere, which scores well here and hides that class from users.

    python -m animeparse.calibration models/animeparse-b0 --dataset my-corrections --split train --out my-models
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from animeparse.branches import BRANCHES
from animeparse.files import atomic_dir
from animeparse.images import frame_window
from animeparse.inference import Branch, branch_logits, load_branches, model_schema
from animeparse.labels import IGNORE_INDEX
from animeparse.metrics import confusion_matrix, summarize

GRID = tuple(np.round(np.arange(-2.0, 2.001, 0.25), 2))
"""Offsets tried for each class, in logits."""


def split_logits(branches: Mapping[str, Branch], split, table: np.ndarray) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Each branch's logits on the split's pictures, and the truth at the logits' resolution:
    mapped to the models' ids by ``table``, placed on the picture's frame (the margin ignored),
    resized by nearest neighbour. Frames differ in size, so all pictures' pixels make one row:
    (1, C, 1, N) logits and (1, 1, N) truth."""
    logits: dict[str, list[torch.Tensor]] = {name: [] for name in branches}
    labels = []
    for row in split:
        image = row["image"].convert("RGB")
        for name, branch in branches.items():
            logits[name].append(branch_logits(branch, image))
        frame_height, frame_width, top, left = frame_window(image.height, image.width)
        frame = Image.new("L", (frame_width, frame_height), IGNORE_INDEX)
        frame.paste(Image.fromarray(table[np.asarray(row["label"])].astype(np.uint8)), (left, top))
        h, w = logits[name][-1].shape[-2:]
        labels.append(torch.from_numpy(np.asarray(frame.resize((w, h), Image.NEAREST)).astype(np.int64)))

    def in_one_row(maps: list[torch.Tensor]) -> torch.Tensor:  # (..., h, w) each -> (..., 1, N)
        return torch.cat([m.flatten(-2) for m in maps], -1)[..., None, :]

    return {name: in_one_row(v)[None] for name, v in logits.items()}, in_one_row(labels)[None]


def ensemble_labels(logits: Sequence[torch.Tensor], offsets: torch.Tensor) -> torch.Tensor:
    """(n, h, w) A+B label maps with ``offsets`` added to every branch's logits: the argmax of the
    branches' averaged softmax, as :func:`animeparse.inference.class_scores` makes them."""
    shift = offsets.view(1, -1, 1, 1)
    probs = sum((x + shift).softmax(1) for x in logits)
    return probs.argmax(1)


def present_mean_iou(pred: torch.Tensor, truth: torch.Tensor, present: Sequence[int], num_classes: int) -> float:
    """Mean IoU over the ``present`` classes (ignored pixels left out), by :func:`summarize`."""
    iou = summarize(confusion_matrix(pred, truth, num_classes), range(num_classes))["per_category_iou"]
    return sum(iou[c] or 0.0 for c in present) / len(present)


def fit_offsets(
    logits: Sequence[torch.Tensor], truth: torch.Tensor, num_classes: int, sweeps: int = 3, grid: Sequence[float] = GRID
) -> tuple[torch.Tensor, float, float, list[int]]:
    """Offsets (C,) that raise the A+B mean IoU over the classes present in ``truth``, by
    coordinate ascent over ``grid``; with the score before and after, and those classes."""
    counts = torch.bincount(truth[truth < num_classes], minlength=num_classes)
    present = [c for c in range(num_classes) if counts[c] > 0]
    offsets = torch.zeros(num_classes)
    before = best = present_mean_iou(ensemble_labels(logits, offsets), truth, present, num_classes)
    for _ in range(sweeps):
        improved = False
        for c in present:
            for value in grid:
                trial = offsets.clone()
                trial[c] = float(value)
                score = present_mean_iou(ensemble_labels(logits, trial), truth, present, num_classes)
                if score > best + 1e-6:
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    return offsets, before, best, present


def fold_offsets(model, offsets: torch.Tensor) -> None:
    """Add ``offsets`` to the bias of the model's final classifier (SegFormer's decode head)."""
    with torch.no_grad():
        model.decode_head.classifier.bias += offsets.to(model.decode_head.classifier.bias)


def calibrate(run: Path, dataset: str, split: str, out: Path, limit: int | None = None) -> dict:
    """Fit offsets for ``run``'s pair (model_a/, model_b/ and metrics.json, as a training run or
    ``model_card.publish`` writes them) on ``dataset``'s ``split``, and write the calibrated pair
    to ``out``: the models, and ``run``'s metrics.json with a ``calibration`` record. The split's
    scores in that metrics.json are the run's own until it is measured again
    (``python -m model_card.remeasure OUT --dataset DATASET``)."""
    from animeparse.data import load_dataset_schema, load_parsing_dataset
    from animeparse.labels import remap_table
    from animeparse.model import save_model

    folders = {b: run / f"model_{b.lower()}" for b in BRANCHES}
    metrics = json.loads((run / "metrics.json").read_text())
    branches = load_branches({b: str(f) for b, f in folders.items()})
    schema = model_schema(branches["A"][0])
    rows = load_parsing_dataset(dataset)[split]
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    table = remap_table(load_dataset_schema(dataset), schema)
    logits, truth = split_logits(branches, rows, table)
    offsets, before, after, present = fit_offsets(list(logits.values()), truth, schema.num_classes)
    metrics["calibration"] = {
        "dataset": dataset, "split": split, "num_images": len(rows),
        "offsets": {schema.names[c]: round(float(offsets[c]), 2) for c in range(schema.num_classes)},
        "classes_fitted": [schema.names[c] for c in present],
        "mean_iou_before": before, "mean_iou_after": after,
        "note": "A+B mean IoU over the fitted classes at the logits' resolution",
    }
    with atomic_dir(out, overwrite=True) as staged:
        for b, (model, processor) in branches.items():
            fold_offsets(model, offsets)
            save_model(model, processor, staged / folders[b].name)
        (staged / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics["calibration"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="folder with model_a/, model_b/ and metrics.json (a training run or a published pair)")
    p.add_argument("--dataset", required=True, help="labeled Datasets repo (local folder or Hub id)")
    p.add_argument("--split", default="validation", help="split to fit on (never the test split you report)")
    p.add_argument("--limit", type=int, default=None, help="fit on the first N pictures only")
    p.add_argument("--out", type=Path, required=True, help="folder for the calibrated pair (replaced)")
    args = p.parse_args()
    missing = [str(args.run / f) for f in ("metrics.json", "model_a/config.json", "model_b/config.json") if not (args.run / f).is_file()]
    if missing:
        p.error(f"{args.run} is not a pair folder: missing {', '.join(missing)}")
    if args.out.resolve() == args.run.resolve():
        p.error("--out must differ from the run folder (the run's models stay as trained)")
    record = calibrate(args.run, args.dataset, args.split, args.out, args.limit)
    print(f"{record['split']} ({record['num_images']} pictures): A+B mean IoU over {len(record['classes_fitted'])} classes "
          f"{record['mean_iou_before']:.4f} -> {record['mean_iou_after']:.4f}")
    print("offsets:", ", ".join(f"{k} {v:+.2f}" for k, v in record["offsets"].items() if v))
    print(f"wrote {args.out}/model_a, {args.out}/model_b and {args.out}/metrics.json")


if __name__ == "__main__":
    main()
