"""The batch command: parse many images, write index maps, color maps and (optionally) overlays.

    animeparse-predict INPUT_DIR_OR_FILES --out DIR [--overlays]
    python -m animeparse.predict INPUT_DIR_OR_FILES --out DIR [--overlays] [--backend onnx] [--no-flip] [--no-zoom-faces]

``--backend onnx`` runs the models' ``onnx/`` exports (``python -m animeparse.export MODEL``) with
ONNX Runtime; the outputs are the same. Each model answers with its mean over the picture and its
mirror image, as in the app; ``--no-flip`` takes one forward pass, as ``pipeline()`` does.
As in the app, the faces then get a second, closer look (:mod:`animeparse.faces`): finer eyes,
eyebrows, mouths and hair for one more forward pass per model; ``--no-zoom-faces`` skips it.

Inference is :mod:`animeparse.inference`, the pictures :mod:`animeparse.drawing`; this module only
reads the command line, the input files and writes the outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from animeparse.branches import ENSEMBLE, USES, needed_branches
from animeparse.drawing import color_map, overlay
from animeparse.files import FAST_PNG_LEVEL, png_bytes, write_atomic
from animeparse.images import ImageError, fit_within, load_rgb
from animeparse.inference import DEFAULT_MODEL_A, DEFAULT_MODEL_B, MAX_SIDE, Branch, load_branches, model_schema, predict
from animeparse.labels import Schema, schema_choices
from animeparse.model import ModelLoadError
from animeparse.onnx_backend import BACKENDS

OUT_FOLDERS = ("labels", "colors", "overlays")
"""What --out gets: a folder of each kind of output, one PNG per image in each."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="animeparse-predict",
        description="Parse many images: write index label maps, color maps and optionally overlays.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders of images (not recursive)")
    parser.add_argument("--out", type=Path, required=True, help="output folder; gets labels/, colors/ and overlays/")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A: a Hub id or a local checkpoint folder")
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B: a Hub id or a local checkpoint folder")
    parser.add_argument(
        "--backend", default="torch", choices=BACKENDS,
        help="run the models with PyTorch, or with ONNX Runtime (needs each model's onnx/ export: python -m animeparse.export MODEL)",
    )
    parser.add_argument("--use", default=ENSEMBLE, choices=USES, help="which branch to use, or A+B: their average")
    parser.add_argument(
        "--no-flip", dest="flip", action="store_false",
        help="one forward pass per model (faster); by default each model is averaged over the image and its mirror image",
    )
    parser.add_argument(
        "--no-zoom-faces", dest="zoom_faces", action="store_false",
        help="no second, closer look at the faces (faster); by default the faces are parsed again, enlarged",
    )
    parser.add_argument(
        "--classes", default=None, help="class count of the output: 16, or 13 for the merge (default: the models')"
    )
    parser.add_argument("--overlays", action="store_true", help="also write overlays of the labels on the images")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity, 0..1")
    parser.add_argument(
        "--max-side", type=int, default=MAX_SIDE,
        help="parse larger images downscaled to this longer side; their maps are scaled back to the image size",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.opacity <= 1:
        parser.error(f"--opacity must be in [0, 1], got {args.opacity}")
    if args.max_side < 32:
        parser.error(f"--max-side must be at least 32, got {args.max_side}")
    missing = [str(p) for p in args.inputs if not p.exists()]
    if missing:
        parser.error(f"inputs not found: {', '.join(missing)}")
    problem = out_problem(args.out)
    if problem:
        parser.error(f"--out {args.out}: {problem}")
    return args


def out_problem(out: Path) -> str | None:
    """Why the output folder cannot be written, or None; checked before any model loads."""
    for folder in (out, *(out / name for name in OUT_FOLDERS)):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder"
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write into {existing} (permission denied)"
    return None


def collect_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given, plus the image files (by extension) directly inside given folders."""
    extensions = set(Image.registered_extensions())
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions)
        else:
            files.append(path)
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems and stems[path.stem] != path:
            raise ValueError(f"{stems[path.stem]} and {path} would both write {path.stem}.png; rename one")
        stems[path.stem] = path
    return list(stems.values())


def parse_file(path: Path, branches: dict[str, Branch], args: argparse.Namespace, schema: Schema | None) -> None:
    """Parse one image and write its maps under ``args.out``."""
    original = load_rgb(path)
    prediction = predict(branches, fit_within(original, args.max_side), args.use, zoom=args.zoom_faces)
    schema = schema or prediction.schema
    labels = prediction.labels(args.use, schema)
    if labels.shape != (original.height, original.width):
        labels = np.asarray(Image.fromarray(labels).resize(original.size, Image.NEAREST))
    name = f"{path.stem}.png"
    write_atomic(args.out / "labels" / name, png_bytes(labels, FAST_PNG_LEVEL))
    write_atomic(args.out / "colors" / name, png_bytes(color_map(labels, schema), FAST_PNG_LEVEL))
    if args.overlays:
        painted = range(1, schema.num_classes)  # everything but the background
        image = np.asarray(original)
        write_atomic(args.out / "overlays" / name, png_bytes(overlay(image, labels, schema, painted, args.opacity), FAST_PNG_LEVEL))


def main(argv: Sequence[str] | None = None) -> int:
    from tqdm import tqdm

    args = parse_args(argv)
    try:
        files = collect_inputs(args.inputs)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not files:
        print(f"error: no image files in {', '.join(map(str, args.inputs))}", file=sys.stderr)
        return 2

    models = {"A": args.model_a, "B": args.model_b}
    try:
        branches = load_branches({name: models[name] for name in needed_branches(args.use)}, args.backend, args.flip)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    choices = schema_choices(model_schema(next(iter(branches.values()))[0]))
    if args.classes is not None and args.classes not in choices:
        print(f"error: --classes {args.classes}: the models offer {sorted(choices, key=int)}", file=sys.stderr)
        return 2
    schema = choices.get(args.classes) if args.classes else None

    skipped = []
    for path in tqdm(files, desc="parsing", unit="image"):
        try:
            parse_file(path, branches, args, schema)
        except ImageError as e:
            skipped.append(path)
            tqdm.write(f"skipped: {e}", file=sys.stderr)
    print(f"wrote {len(files) - len(skipped)} of {len(files)} images to {args.out}", file=sys.stderr)
    if skipped:
        print(f"{len(skipped)} unreadable, skipped: {', '.join(map(str, skipped))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
