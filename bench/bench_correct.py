"""How fast correcting a parse and saving it as training data are, as ratios measured in one run.

    python bench/bench_correct.py [--rounds 7] [--size 512] [--rows 10 1000]

Both branches are SegFormer-B0 initialised from scratch with a processor at ``--size`` (weights do
not change the timing). Each round times, one after another on the same image:

- a prediction as the server makes it (read the upload, run branch A, draw the overlay as the
  page's PNG: ``parse_upload`` + ``show``), the yardstick;
- a paint round in the correct view: the server reads the editor's stroke layer (a PNG file, as
  gradio hands it over), folds it into the label map and draws the editor's picture again
  (``show(..., "correct", edited, correction)``); the browser's own drawing is not counted;
- a redraw of the correct view after changing the opacity (no strokes).

Then saving one corrected row (``hf_dataset.append.append_rows``, what the app's Save runs) into
a repo that already holds each of ``--rows`` rows (built with the same function, one call), as
the median of ``--rounds`` saves: the time should not grow with the repo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from animeparse.files import png_bytes
from animeparse.labels import SCHEMA_16
from hf_dataset.append import append_rows, split_shards
from hf_dataset.records import label_value, make_row

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_app, beside this file
from bench_app import import_app, random_pair, smooth_image, timed  # noqa: E402



def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (and saves per repo size); medians are reported")
    parser.add_argument("--size", type=int, default=512, help="image side and model input size in pixels")
    parser.add_argument("--rows", type=int, nargs="+", default=[10, 1000], help="repo sizes to time a save at")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.size < 64:
        parser.error(f"--size must be at least 64, got {args.size}")
    if min(args.rows) < 1:
        parser.error("--rows must be at least 1")
    return args


def stroke_layer(size: int, color: tuple[int, int, int], path: Path) -> str:
    """An editor layer with one brush stroke across the picture, saved as gradio hands it over."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line([(size // 8, size // 2), (size * 7 // 8, size // 3)], fill=(*color, 255), width=max(3, size // 40))
    layer.save(path)
    return str(path)


def main() -> None:
    args = parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    work = Path(tempfile.mkdtemp(prefix="bench_correct_"))
    os.environ["ANIMEPARSE_SAVE_REPO"] = str(work / "unused")
    app = import_app(random_pair(work, args.size))

    image_file = work / "bench.png"
    Image.fromarray(smooth_image(args.size, seed=0)).save(image_file)
    classes = list(SCHEMA_16.names[1:])
    layers = [stroke_layer(args.size, SCHEMA_16.palette[i % 16], work / f"stroke{i}.png") for i in range(args.rounds + 1)]

    def predict_once():
        prediction = app.parse_upload(str(image_file), "A", "overlay")[0]
        app.show(prediction, "A", "16", classes, 0.6, "overlay")
        return prediction

    prediction = predict_once()  # warm-up
    _, _, _, _, _, correction = app.show(prediction, "A", "16", classes, 0.6, "correct")  # enter the correct view

    def paint(layer: str) -> None:
        edited = {"background": None, "layers": [layer], "composite": layer}
        app.show(prediction, "A", "16", classes, 0.6, "correct", edited, correction)

    paint(layers[-1])  # warm-up
    times: dict[str, list[float]] = {k: [] for k in ("predict", "paint", "opacity")}
    for i in range(args.rounds):
        times["predict"].append(timed(predict_once))
        times["paint"].append(timed(lambda: paint(layers[i])))
        times["opacity"].append(timed(lambda: app.show(prediction, "A", "16", classes, 0.3, "correct", None, correction)))
    if not correction.history:
        sys.exit("the strokes changed nothing: the paint rounds timed no work")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"SegFormer-B0 at {args.size}x{args.size}, {torch.get_num_threads()} threads, median of {args.rounds} rounds")
    print(f"  prediction, one branch (yardstick)        {med['predict'] * 1000:8.1f} ms")
    print(f"  paint: read a stroke and redraw           {med['paint'] * 1000:8.1f} ms   "
          f"{med['paint'] / med['predict']:.3f}x prediction (goal < 0.1x)")
    print(f"  change opacity while correcting (redraw)  {med['opacity'] * 1000:8.1f} ms   "
          f"{med['opacity'] / med['predict']:.3f}x prediction (goal < 0.1x)")

    # ---------------------------------------------------------------- saving
    label = label_value(correction.labels)

    def row(name: str) -> dict:  # a picture of its own per row, as a real repo has (parquet would share equal bytes)
        seed = sum(name.encode()) * 7919 + int("".join(c for c in name if c.isdigit()) or 0)
        return make_row({"bytes": png_bytes(smooth_image(args.size, seed), 1), "path": None}, label, name, {"source": "bench"})

    saves = {}
    for n in args.rows:
        repo = work / f"repo{n}"
        append_rows(repo, "train", [row(f"old{i:06d}.png") for i in range(n)], SCHEMA_16)
        saves[n] = [timed(lambda i=i: append_rows(repo, "train", [row(f"new{i:03d}.png")], SCHEMA_16)) for i in range(args.rounds)]
        shards = len(split_shards(repo)["train"])
        size = sum(p.stat().st_size for p in (repo / "data").iterdir()) / 1e6
        print(f"  save one row into a repo of {n:>6,} rows  {statistics.median(saves[n]) * 1000:8.1f} ms   "
              f"(repo {size:,.0f} MB in {shards} shard(s) after the saves)")
    first, last = min(args.rows), max(args.rows)
    print(f"  save time at {last:,} rows / at {first:,} rows: {statistics.median(saves[last]) / statistics.median(saves[first]):.2f}x "
          f"(goal: about 1, independent of the repo size)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
