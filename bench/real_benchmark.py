"""The real-art benchmark: part accuracy on characters the models never saw in training.

Scores the held-out Live2D characters (the ``test`` split of a Live2D repo built by
``hf_dataset/build.py live2d``: real hand-drawn anime art with exact part labels, in every style
and framing) for branches A, B and their ensemble A+B:

- 16-class mean IoU and per-class IoU (the maps the app shows);
- 13-class mean IoU (the app's 13-class maps: merged classes sum their members' probabilities);
- coarse mean IoU, background / hair / skin / clothes (the 16-class maps grouped);
- the same by drawing style.

Then the Ren'Py sprite check (bench/real_check.py: foreground IoU on white, on busy backgrounds,
on 16:9 visual-novel screens and as line art), and one summary table. Overlays (picture, truth,
A+B prediction) and an overview figure are written to --out; the art may not be redistributed, so
keep them local.

    python bench/real_benchmark.py --dataset ~/animeparse-runs/data/live2d_parts --out outputs/real_benchmark
    python bench/real_benchmark.py --dataset DIR --model-a RUN/model_a --model-b RUN/model_b --out outputs/run_bench
    python bench/real_benchmark.py --dataset DIR --no-flip --no-zoom-faces --out outputs/plain   # one forward pass per model

The models answer as in the app and the batch command: each averaged over the picture and its
mirror image, unless --no-flip, and the faces parsed again, enlarged (animeparse.faces), unless
--no-zoom-faces.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # real_check, beside this file

from animeparse.branches import ENSEMBLE, USES  # noqa: E402
from animeparse.data import load_parsing_dataset  # noqa: E402
from animeparse.inference import DEFAULT_MODEL_A, DEFAULT_MODEL_B, load_branches, predict  # noqa: E402
from animeparse.labels import MERGE_16_TO_13, MERGE_16_TO_COARSE, SCHEMA_13, SCHEMA_16, SCHEMA_COARSE  # noqa: E402
from animeparse.metadata import STYLES  # noqa: E402
from animeparse.metrics import confusion_matrix, merge_confusion, summarize  # noqa: E402
from real_check import VARIANTS, print_renpy, renpy_check, unpack_packages  # noqa: E402

OVERLAYS = 24
"""Pictures drawn as picture | truth | prediction tiles (the first ones of the split)."""

IGNORED_EDGE = 4
"""Pixels within this many pixels of truth the labels ignore (255) are counted apart for the classes
the truth lacks: a drawable that mixes parts (haruto's knee skin and socks) is ignored, and what the
models say about it spills past its edge onto pixels the truth calls background."""


def tile(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, height: int = 256) -> np.ndarray:
    """Picture, true label map and predicted label map side by side (255 = ignore shows white)."""
    parts = [image, SCHEMA_16.colorize(truth), SCHEMA_16.colorize(pred)]
    return np.concatenate([np.asarray(Image.fromarray(p).resize((height, height), Image.NEAREST)) for p in parts], axis=1)


def near_ignored(pred: np.ndarray, truth: np.ndarray) -> torch.Tensor:
    """(16,) how many labeled pixels each class was predicted at within :data:`IGNORED_EDGE` pixels
    of pixels the truth ignores."""
    ignored = torch.from_numpy(truth == 255)[None, None].float()
    near = F.max_pool2d(ignored, 2 * IGNORED_EDGE + 1, stride=1, padding=IGNORED_EDGE)[0, 0].bool().numpy()
    near &= truth != 255
    return torch.bincount(torch.from_numpy(pred[near].astype(np.int64)), minlength=SCHEMA_16.num_classes)


def absent_classes(cm: torch.Tensor, summary: dict, at_ignored: torch.Tensor | None = None) -> dict:
    """What the plain mean IoU hides when the truth lacks classes (the held-out characters show no
    legs, legwear or animal parts): such a class scores 0 on any false alarm, and is left out
    when never predicted. So, from the confusion matrix and its :func:`summarize`: the mean over
    the classes the truth holds (those with a per-class accuracy), the share of pixels the models
    gave to the absent ones, and for each absent class predicted, what those pixels truly are
    (shares of its pixels by truth class, largest first): where the false alarms come from; with
    ``at_ignored`` (:func:`near_ignored` summed over the pictures), the share of them at the edge
    of truth the labels ignore."""
    accuracy, iou = summary["per_category_accuracy"], summary["per_category_iou"]
    absent = [name for name in SCHEMA_16.names if accuracy[name] is None]
    present = [iou[name] for name in SCHEMA_16.names if accuracy[name] is not None]
    predicted = cm.sum(0)  # rows: truth, columns: prediction
    taken_from = {}
    for name in absent:
        column = cm[:, SCHEMA_16.names.index(name)]
        if column.sum() > 0:
            shares = {SCHEMA_16.names[t]: float(column[t] / column.sum()) for t in column.argsort(descending=True)[:3]
                      if column[t] > 0}
            taken_from[name] = shares
    result = {"classes": absent,
              "predicted_share": float(predicted[[SCHEMA_16.names.index(n) for n in absent]].sum() / cm.sum()),
              "mean_iou_present": sum(present) / len(present),
              "taken_from": taken_from}
    if at_ignored is not None:
        result["at_ignored_edge"] = {name: float(at_ignored[SCHEMA_16.names.index(name)] / predicted[SCHEMA_16.names.index(name)])
                                     for name in taken_from}
    return result


def score_split(dataset, branches, out: Path, limit: int | None, zoom: bool = False) -> dict:
    """Confusion matrices per use (16 and 13 classes) and per style; overlays of the first pictures.
    ``zoom``: parse with a closer look at the faces, as the app does by default."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    cm16 = {u: torch.zeros(16, 16, dtype=torch.long) for u in USES}
    cm13 = {u: torch.zeros(13, 13, dtype=torch.long) for u in USES}
    by_style = {(u, s): torch.zeros(16, 16, dtype=torch.long) for u in USES for s in STYLES}
    at_ignored = {u: torch.zeros(16, dtype=torch.long) for u in USES}
    tiles = []
    start = time.perf_counter()
    for i in range(n):
        row = dataset[i]
        image = row["image"].convert("RGB")
        truth = np.asarray(row["label"])
        prediction = predict(branches, image, ENSEMBLE, name=row["file_name"], zoom=zoom)
        truth_t = torch.from_numpy(truth.astype(np.int64))
        truth13 = torch.from_numpy(MERGE_16_TO_13[truth].astype(np.int64))
        for use in USES:
            pred16 = prediction.labels(use, SCHEMA_16)
            cm = confusion_matrix(torch.from_numpy(pred16.astype(np.int64)), truth_t, 16)
            cm16[use] += cm
            by_style[(use, row["style"])] += cm
            at_ignored[use] += near_ignored(pred16, truth)
            pred13 = prediction.labels(use, SCHEMA_13)
            cm13[use] += confusion_matrix(torch.from_numpy(pred13.astype(np.int64)), truth13, 13)
            if use == ENSEMBLE and i < OVERLAYS:
                tiles.append(tile(np.asarray(image), truth, pred16))
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{n} pictures, {(time.perf_counter() - start) / (i + 1):.2f} s each", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    if tiles:
        cols = 3
        rows = [np.concatenate(tiles[r:r + cols] + [np.full_like(tiles[0], 255)] * (cols - len(tiles[r:r + cols])), axis=1)
                for r in range(0, len(tiles), cols)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(out / "overview.png")
    result = {"num_images": n}
    for use in USES:
        coarse = merge_confusion(cm16[use], MERGE_16_TO_COARSE, SCHEMA_COARSE.num_classes)
        summary16 = summarize(cm16[use], SCHEMA_16.names)
        result[use] = {
            "16": summary16,
            "16_absent": absent_classes(cm16[use], summary16, at_ignored[use]),
            "13": summarize(cm13[use], SCHEMA_13.names),
            "coarse": summarize(coarse, SCHEMA_COARSE.names),
            "by_style": {s: summarize(by_style[(use, s)], SCHEMA_16.names)["mean_iou"]
                         for s in STYLES if by_style[(use, s)].sum() > 0},
        }
    return result


def fmt(v: float | None) -> str:
    return "    -" if v is None else f"{v:5.3f}"


def print_parts(result: dict) -> None:
    print(f"\nheld-out Live2D characters, {result['num_images']} pictures: per-class IoU (16 classes)")
    print(f"{'class':14s}" + "".join(f"{u:>8s}" for u in USES))
    for name in SCHEMA_16.names:
        print(f"{name:14s}" + "".join(f"   {fmt(result[u]['16']['per_category_iou'][name])}" for u in USES))


def print_summary(result: dict, renpy: dict | None) -> None:
    absent = result[ENSEMBLE]["16_absent"]["classes"]
    if absent:
        shares = ", ".join(f"{u} {100 * result[u]['16_absent']['predicted_share']:.2f}%" for u in USES)
        print(f"\nnot in the truth: {', '.join(absent)}; pixels predicted as them: {shares}")
        edge = result[ENSEMBLE]["16_absent"].get("at_ignored_edge", {})
        for name, truth in result[ENSEMBLE]["16_absent"]["taken_from"].items():
            print(f"  {ENSEMBLE} {name} pixels are truly: " + ", ".join(f"{t} {100 * v:.0f}%" for t, v in truth.items())
                  + (f"; {100 * edge[name]:.0f}% within {IGNORED_EDGE} px of ignored truth" if name in edge else ""))
    print("\nsummary" + " " * 26 + "".join(f"{u:>8s}" for u in USES))
    rows = [("real parts, 16-class mIoU", lambda u: result[u]["16"]["mean_iou"]),
            (f"  over the {SCHEMA_16.num_classes - len(absent)} classes in truth", lambda u: result[u]["16_absent"]["mean_iou_present"]),
            ("real parts, 13-class mIoU", lambda u: result[u]["13"]["mean_iou"]),
            ("real parts, coarse mIoU", lambda u: result[u]["coarse"]["mean_iou"])]
    rows += [(f"  {s} (16-class)", lambda u, s=s: result[u]["by_style"].get(s)) for s in STYLES]
    if renpy:
        rows += [(f"Ren'Py foreground, {v}", lambda u, v=v: renpy[(v, u)]) for v in VARIANTS]
    for label, get in rows:
        print(f"{label:33s}" + "".join(f"   {fmt(get(u))}" for u in USES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="Live2D Datasets repo (local folder or Hub id) with held-out characters")
    parser.add_argument("--split", default="test", help="split to score (default test; validation while tuning)")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A: Hub id or local folder")
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B: Hub id or local folder")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pictures")
    parser.add_argument("--renpy", type=Path, help="folder where the renpy .debs were unpacked (default: download them)")
    parser.add_argument("--no-renpy", action="store_true", help="skip the Ren'Py sprite check")
    parser.add_argument("--input-size", type=int, default=None, metavar="PX",
                        help="run the models at PX x PX instead of their processors' size (to choose an inference size)")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="one forward pass per model, as pipeline() gives (default: as the app, each model averaged "
                             "over the picture and its mirror image)")
    parser.add_argument("--no-zoom-faces", dest="zoom_faces", action="store_false",
                        help="no second, closer look at the faces (default: as the app, the faces parsed again, enlarged)")
    parser.add_argument("--out", type=Path, required=True, help="folder for metrics.json and the figures")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be 1 or more")
    if args.input_size is not None and not 32 <= args.input_size <= 2048:
        parser.error(f"--input-size must be 32 to 2048 px, got {args.input_size}")

    dataset = load_parsing_dataset(args.dataset)
    if args.split not in dataset:
        parser.error(f"--split {args.split!r}: {args.dataset} has {sorted(dataset)}")
    branches = load_branches({"A": args.model_a, "B": args.model_b}, flip=args.flip)
    if args.input_size is not None:
        for _, processor in branches.values():
            processor.size = {"height": args.input_size, "width": args.input_size}
    result = score_split(dataset[args.split], branches, args.out, args.limit, args.zoom_faces)
    renpy = None
    if not args.no_renpy:
        with tempfile.TemporaryDirectory() as tmp:
            renpy = renpy_check(args.renpy or unpack_packages(Path(tmp)), branches, args.out / "renpy", zoom=args.zoom_faces)
        print_renpy(renpy)
    print_parts(result)
    print_summary(result, renpy)
    record = {"models": {"A": args.model_a, "B": args.model_b}, "dataset": args.dataset, "split": args.split, "flip": args.flip, "zoom_faces": args.zoom_faces,
              "input_size": args.input_size or next(iter(branches.values()))[1].size["height"], **result,
              "renpy": {f"{v}/{u}": s for (v, u), s in (renpy or {}).items()}}
    (args.out / "metrics.json").write_text(json.dumps(record, indent=2))
    print(f"\nmetrics in {args.out / 'metrics.json'}, figure in {args.out / 'overview.png'}")


if __name__ == "__main__":
    main()
