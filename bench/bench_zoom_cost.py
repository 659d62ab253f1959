"""What the closer look at the faces costs: the app's default prediction (the flip, then the faces
parsed again, enlarged) against the same without the faces' second look (``--no-zoom-faces``) and
against the plain 512 x 512 prediction the project started from, as ratios measured side by side
in one run.

    python bench/bench_zoom_cost.py [--rounds 5] [--image 1024]

The default pair (models/animeparse-b0) in three apps: as shipped (its input size, the flip and the
faces' second look), the same with --no-zoom-faces (the flip only), and the pair at 512 px
without either (the 1.3x goal's reference; its weights at another input size, which does not
change the time). Trained weights are needed
here: the closer look costs one forward pass per face found, and untrained models find none. Each
round runs an upload through ``parse_upload`` + ``show`` (A+B) in every app, one after another,
on renderer pictures of ``--image`` px: a whole figure (one face) and a group of characters.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_app, beside this file

from bench_app import import_app, timed  # noqa: E402

from animeparse.inference import DEFAULT_MODELS  # noqa: E402
from animeparse.synth import render  # noqa: E402

PICTURES = {"figure": dict(seed=5, framing="full", difficulty="easy"), "group": dict(seed=4, style="manga")}


def pair_at(size: int, work: Path) -> dict[str, Path]:
    """The default pair copied under ``work`` with its processors resized to ``size`` px."""
    dirs = {}
    for name in ("A", "B"):
        dirs[name] = work / f"{size}_{name}"
        shutil.copytree(DEFAULT_MODELS / f"model_{name.lower()}", dirs[name], ignore=shutil.ignore_patterns("onnx", "README.md"))
        config = dirs[name] / "preprocessor_config.json"
        settings = json.loads(config.read_text())
        settings["size"] = {"height": size, "width": size}
        config.write_text(json.dumps(settings))
    return dirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; medians are reported")
    parser.add_argument("--image", type=int, default=1024, help="side of the square test pictures in px")
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    work = Path(tempfile.mkdtemp(prefix="bench_zoom_"))
    pictures = {}
    for name, controls in PICTURES.items():
        pictures[name] = work / f"{name}.png"
        render(size=args.image, effects=False, **controls).image.save(pictures[name])

    shipped = {"A": DEFAULT_MODELS / "model_a", "B": DEFAULT_MODELS / "model_b"}
    apps = {
        "512 px plain": import_app(pair_at(512, work), FLIP="0", ZOOM_FACES="0"),
        "flip only": import_app(shipped, FLIP="1", ZOOM_FACES="0"),
        "default": import_app(shipped, FLIP="1", ZOOM_FACES="1"),
    }
    first = next(iter(apps.values()))
    classes, ensemble = list(first.SCHEMA.names[1:]), first.ENSEMBLE
    views = {}

    def parse(key: str, picture: str) -> None:
        app = apps[key]
        prediction = app.parse_upload(str(pictures[picture]), ensemble, "overlay")[0]
        app.show(prediction, ensemble, "16", classes, 0.6, "overlay")
        views[picture] = len(prediction.views or []) or views.get(picture, 0)

    for key in apps:  # warm-up: first calls allocate and pick kernels
        for picture in pictures:
            parse(key, picture)
    times = {(key, picture): [] for key in apps for picture in pictures}
    for _ in range(args.rounds):
        for key in apps:
            for picture in pictures:
                times[key, picture].append(timed(lambda: parse(key, picture)))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}

    print(f"app prediction (A+B) of {args.image}x{args.image} renderer pictures, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} rounds")
    print(f"  {'picture':>8} {'views':>5} {'app':>13} {'ms':>8} {'vs 512 plain':>13} {'vs flip only':>13}")
    for picture in pictures:
        for key in apps:
            ms = med[key, picture]
            print(f"  {picture:>8} {views[picture]:>5} {key:>13} {ms:8.1f} {ms / med['512 px plain', picture]:13.2f} "
                  f"{ms / med['flip only', picture]:13.2f}")
    worst = max(med["default", p] / med["512 px plain", p] for p in pictures)
    print(f"default (flip and the faces' second look) vs 512 px plain A+B: at most {worst:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
