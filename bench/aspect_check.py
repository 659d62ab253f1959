"""Pictures that are not square: squashed into the model's square input, padded to a square, or
framed as animeparse does.

The models trained on square pictures. A tall sprite or a wide scene can reach them squashed
(what ``pipeline()``'s image processor does), padded to a square with a flat color (the
normalisation mean, zero input) or by repeating its edge pixels, or framed
(:func:`animeparse.images.pad_to_frame`: a tall picture padded to a square with its edge pixels,
a wide one kept as it is up to 2:1, so the model sees its height at its input size; what
animeparse does). This measures them, A+B, side by side:

- the Ren'Py sprites (320 x 720) as uploaded, on white and on the packages' busy backgrounds:
  foreground IoU against their alpha (``bench/real_check.py`` scores them on square canvases);
- visual-novel screens: each sprite standing on each busy background cropped to 16:9;
- with ``--dataset``, wide pictures made of two held-out Live2D test pictures side by side:
  16-class mean IoU over the classes in their truth.

    python bench/aspect_check.py [--renpy DIR] [--dataset ~/animeparse-runs/data/live2d_parts] [--pairs 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # real_check, beside this file

from animeparse.augment import PAD_COLOR  # noqa: E402
from animeparse.branches import ENSEMBLE, needed_branches  # noqa: E402
from animeparse.data import load_parsing_dataset  # noqa: E402
from animeparse.images import frame_window, pad_to_frame  # noqa: E402
from animeparse.inference import (  # noqa: E402
    DEFAULT_MODEL_A, DEFAULT_MODEL_B, Branch, load_branches, model_schema, predict,
)
from animeparse.metrics import confusion_matrix, summarize  # noqa: E402
from real_check import find_images, iou, on_canvas, screen_placement, truth_mask, unpack_packages  # noqa: E402

Parser = Callable[[dict[str, Branch], Image.Image], np.ndarray]


def squashed(branches: dict[str, Branch], image: Image.Image) -> np.ndarray:
    """A+B labels as ``pipeline()`` makes them: the picture resized to the square input as it is,
    the logits upsampled straight back to its size."""
    probs = 0
    for name in needed_branches(ENSEMBLE):
        model, processor = branches[name]
        with torch.inference_mode():
            logits = model(**processor(images=image, return_tensors="pt")).logits
        probs = probs + F.interpolate(logits, size=(image.height, image.width), mode="bilinear", align_corners=False)[0].softmax(0)
    return probs.argmax(0).numpy().astype(np.uint8)


def square_padded(branches: dict[str, Branch], image: Image.Image, fill: tuple | None = None) -> np.ndarray:
    """A+B labels of the picture centered on a square, cropped back: its margins the ``fill``
    color, or its edge pixels repeated (``None``)."""
    frame_height, frame_width, top, left = frame_window(image.height, image.width, max_aspect=1)
    if fill is None:
        square = pad_to_frame(image, max_aspect=1)
    else:
        square = Image.new("RGB", (frame_width, frame_height), fill)
        square.paste(image, (left, top))
    return predict(branches, square, ENSEMBLE).labels(ENSEMBLE, model_schema(branches["A"][0]))[
        top : top + image.height, left : left + image.width
    ]


def framed(branches: dict[str, Branch], image: Image.Image) -> np.ndarray:
    """A+B labels as animeparse makes them (the frame inside :func:`predict`)."""
    return predict(branches, image, ENSEMBLE).labels(ENSEMBLE, model_schema(branches["A"][0]))


PARSERS: dict[str, Parser] = {
    "squashed": squashed,
    "flat square": lambda branches, image: square_padded(branches, image, PAD_COLOR),
    "edge square": square_padded,
    "frame": framed,
}


def renpy_tall(root: Path, branches, n_backgrounds: int) -> dict[tuple[str, str], float]:
    """Foreground IoU of each parser on the sprites at their own size, on white and busy."""
    sprites, bg_paths, _ = find_images(root)
    backgrounds = [Image.open(p) for p in bg_paths[:n_backgrounds]]
    scores: dict[tuple[str, str], list[float]] = {}
    for path in sprites:
        sprite = Image.open(path).convert("RGBA")
        side = max(sprite.size)
        left = (side - sprite.width) // 2
        window = (left, side - sprite.height, left + sprite.width, side)  # the sprite's own frame
        truth = truth_mask(sprite)[window[1] : window[3], window[0] : window[2]]
        for kind, background in [("white", None)] + [("busy", bg) for bg in backgrounds]:
            picture = on_canvas(sprite, background).crop(window)
            for name, parse in PARSERS.items():
                scores.setdefault((kind, name), []).append(iou(parse(branches, picture) > 0, truth))
    return {key: float(np.mean(v)) for key, v in scores.items()}


def renpy_wide(root: Path, branches, n_backgrounds: int) -> dict[str, float]:
    """Foreground IoU of each parser on visual-novel screens: each sprite standing on each busy
    background at 16:9 (:func:`real_check.screen_placement`)."""
    sprites, bg_paths, _ = find_images(root)
    backgrounds = [Image.open(p) for p in bg_paths[:n_backgrounds]]
    scores: dict[str, list[float]] = {}
    for path in sprites:
        sprite = Image.open(path).convert("RGBA")
        size, left = screen_placement(sprite)
        truth = truth_mask(sprite, size, left)
        for background in backgrounds:
            screen = on_canvas(sprite, background, size, left)
            for name, parse in PARSERS.items():
                scores.setdefault(name, []).append(iou(parse(branches, screen) > 0, truth))
    return {key: float(np.mean(v)) for key, v in scores.items()}


def wide_pairs(dataset_dir: Path, branches, pairs: int) -> dict[str, float]:
    """16-class mean IoU (classes in the truth) of each parser on two test pictures side by side."""
    test = load_parsing_dataset(str(dataset_dir))["test"]
    step = max(1, len(test) // (2 * pairs))
    cms = {name: torch.zeros(16, 16, dtype=torch.long) for name in PARSERS}
    for k in range(pairs):
        rows = [test[(2 * k * step) % len(test)], test[((2 * k + 1) * step) % len(test)]]
        picture = Image.fromarray(np.concatenate([np.asarray(r["image"].convert("RGB")) for r in rows], axis=1))
        truth = torch.from_numpy(np.concatenate([np.asarray(r["label"]) for r in rows], axis=1).astype(np.int64))
        for name, parse in PARSERS.items():
            cms[name] += confusion_matrix(torch.from_numpy(parse(branches, picture).astype(np.int64)), truth, 16)
    names = model_schema(branches["A"][0]).names
    out = {}
    for name, cm in cms.items():
        summary = summarize(cm, names)
        out[name] = float(np.mean([summary["per_category_iou"][n] for n, acc in summary["per_category_accuracy"].items() if acc is not None]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renpy", type=Path, help="folder where the renpy .debs were unpacked (default: download them)")
    parser.add_argument("--dataset", type=Path, help="a Live2D repo (hf_dataset/build.py live2d) for the wide pairs")
    parser.add_argument("--pairs", type=int, default=30, help="wide pictures made of test pairs")
    parser.add_argument("--backgrounds", type=int, default=3, help="busy backgrounds per sprite")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A)
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B)
    args = parser.parse_args()
    if args.pairs < 1 or args.backgrounds < 1:
        parser.error("--pairs and --backgrounds must be at least 1")
    branches = load_branches({"A": args.model_a, "B": args.model_b})
    with tempfile.TemporaryDirectory() as tmp:
        root = args.renpy or unpack_packages(Path(tmp))
        tall = renpy_tall(root, branches, args.backgrounds)
        wide = renpy_wide(root, branches, args.backgrounds)
    print("Ren'Py sprites as uploaded (320 x 720), A+B foreground IoU")
    print(f"{'':14s}" + "".join(f"{name:>15s}" for name in PARSERS))
    for kind in ("white", "busy"):
        print(f"{kind:14s}" + "".join(f"{tall[(kind, name)]:15.3f}" for name in PARSERS))
    print(f"{'16:9 screen':14s}" + "".join(f"{wide[name]:15.3f}" for name in PARSERS))
    if args.dataset:
        pairs = wide_pairs(args.dataset, branches, args.pairs)
        print(f"\n{args.pairs} wide pictures (two held-out test pictures side by side), A+B 16-class mean IoU")
        print(f"{'':14s}" + "".join(f"{pairs[name]:15.3f}" for name in PARSERS))


if __name__ == "__main__":
    main()
