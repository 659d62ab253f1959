"""Inference: an image -> each branch's logits -> label maps, overlays and exports.

The two co-trained branches (A and B) are kept. A :class:`Prediction` holds each branch's
logits at the model's output resolution (a quarter of its input size: 16 x 128 x 128 floats for
a 512-px model), so everything a viewer changes afterwards (16 or 13 classes, class toggles,
overlay opacity, the disagreement view) is computed from them without running a model again.
A branch that was not needed yet (the ensemble after viewing only A, say) runs once, on demand.

Label maps follow transformers' own post-processing: logits upsampled bilinearly to the image
size, then argmax. The A+B ensemble and coarser schemas work on probabilities: the ensemble
averages the branches' softmax, and a merged class (13-class "eyes" = eyes + eyebrows) gets
the sum of its members' probabilities.

The batch command writes index maps, color maps and (optionally) overlays for many images:

    python -m animeparse.predict INPUT_DIR_OR_FILES --out DIR [--overlays]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import SegformerForSemanticSegmentation, SegformerImageProcessor

from animeparse.images import ImageError, fit_within, load_rgb
from animeparse.labels import IGNORE_INDEX, SCHEMA_16, Schema, merged_schema, remap_table
from animeparse.model import ModelLoadError, load_model

BRANCHES = ("A", "B")
ENSEMBLE = "A+B"
USES = (*BRANCHES, ENSEMBLE)
"""What a label map can come from: one branch, or the average of both."""

DEFAULT_MODELS = Path(__file__).resolve().parent.parent / "models" / "animeparse-b0"
DEFAULT_MODEL_A = str(DEFAULT_MODELS / "model_a")
DEFAULT_MODEL_B = str(DEFAULT_MODELS / "model_b")

MAX_SIDE = 2048
"""Images are parsed at most this large (longer side); larger ones are downscaled first. The
models see 512 px anyway, and full-size score maps of bigger images would take gigabytes."""

DISAGREEMENT_COLOR = (255, 0, 255)
"""Magenta: no class in the palette uses it."""

Branch = tuple[SegformerForSemanticSegmentation, SegformerImageProcessor]
"""A loaded model and its image processor, as :func:`animeparse.model.load_model` returns them."""


# ---------------------------------------------------------------- models


def model_schema(model) -> Schema:
    """The schema of a model's classes: the canonical one (with its merges) when the names match."""
    id2label = model.config.id2label
    names = tuple(id2label[i] for i in range(len(id2label)))
    if names == SCHEMA_16.names:
        return SCHEMA_16
    return Schema.from_id2label(id2label, name=f"{len(names)}-class model")


def load_branches(models: Mapping[str, str]) -> dict[str, Branch]:
    """Load each named branch ({"A": id or path, ...}); all must share one class list."""
    branches = {name: load_model(source) for name, source in models.items()}
    schemas = {name: model_schema(model) for name, (model, _) in branches.items()}
    first = next(iter(schemas))
    for name, schema in schemas.items():
        if schema.names != schemas[first].names:
            raise ModelLoadError(
                f"model {name} ({models[name]}) has classes {list(schema.names)}, but model {first} "
                f"({models[first]}) has {list(schemas[first].names)}; both branches must share one schema"
            )
    return branches


def schema_options(schema: Schema) -> dict[str, Schema]:
    """The schemas a prediction can be shown in, keyed by class count: its own and its merges."""
    options = {str(schema.num_classes): schema}
    for target in schema.merges:
        merged = merged_schema(schema, target)
        options[str(merged.num_classes)] = merged
    return options


@torch.inference_mode()
def branch_logits(branch: Branch, image: Image.Image) -> torch.Tensor:
    """One forward pass: (C, h, w) float32 logits at the model's output resolution."""
    model, processor = branch
    pixel_values = processor(images=image, return_tensors="pt")["pixel_values"]
    logits = model(pixel_values=pixel_values.to(model.device, model.dtype)).logits
    return logits[0].float().cpu()


def needed_branches(use: str) -> tuple[str, ...]:
    if use not in USES:
        raise ValueError(f"unknown model choice {use!r}; choose one of {list(USES)}")
    return BRANCHES if use == ENSEMBLE else (use,)


# ---------------------------------------------------------------- predictions


@dataclass(eq=False)
class Prediction:
    """An image and its branches' logits; label maps are derived on demand and remembered."""

    image: np.ndarray
    """(H, W, 3) uint8: the image the label maps belong to."""
    schema: Schema
    """The models' classes."""
    name: str = "image"
    """What exported files are named after."""
    logits: dict[str, torch.Tensor] = field(default_factory=dict)
    """Branch name -> (C, h, w) float32 logits at the model's output resolution."""
    _labels: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.image.shape[0], self.image.shape[1]

    def run(self, branches: Mapping[str, Branch], use: str) -> "Prediction":
        """Run the branches ``use`` needs that have not run yet on this image."""
        missing = [b for b in needed_branches(use) if b not in self.logits]
        if missing:
            image = Image.fromarray(self.image)
            for name in missing:
                if name not in branches:
                    raise ValueError(f"model {name} is not loaded; loaded: {sorted(branches)}")
                self.logits[name] = branch_logits(branches[name], image)
        return self

    def _upsampled(self, branch: str) -> torch.Tensor:
        if branch not in self.logits:
            raise ValueError(f"model {branch} has not run on this image; call run() first")
        return F.interpolate(self.logits[branch][None], size=self.size, mode="bilinear", align_corners=False)[0]

    def probabilities(self, use: str, schema: Schema) -> torch.Tensor:
        """(classes of ``schema``, H, W) probabilities of one branch or the ensemble."""
        first, *others = needed_branches(use)
        probs = self._upsampled(first).softmax(0)
        for branch in others:  # in place: these are (C, H, W) floats at full image size
            probs += self._upsampled(branch).softmax(0)
        probs /= 1 + len(others)
        if schema == self.schema:
            return probs
        return merge_probabilities(probs, remap_table(self.schema, schema), schema.num_classes)

    def labels(self, use: str, schema: Schema) -> np.ndarray:
        """(H, W) uint8 label map in ``schema``'s ids."""
        key = (use, schema.name)
        if key not in self._labels:
            if use in BRANCHES and schema == self.schema:
                scores = self._upsampled(use)  # argmax of logits: exactly transformers' post-processing
            else:
                scores = self.probabilities(use, schema)
            # max().indices: the same first-maximum rule as argmax, about 8x faster on CPU here.
            self._labels[key] = scores.max(0).indices.to(torch.uint8).numpy()
        return self._labels[key]

    def disagreement(self, schema: Schema) -> np.ndarray:
        """(H, W) bool: where branch A and branch B pick different classes."""
        return self.labels("A", schema) != self.labels("B", schema)


def predict(branches: Mapping[str, Branch], image: Image.Image, use: str = ENSEMBLE, name: str = "image") -> Prediction:
    """Run the branches ``use`` needs on an RGB image."""
    schema = model_schema(next(iter(branches.values()))[0])
    return Prediction(np.asarray(image.convert("RGB")), schema, name).run(branches, use)


def merge_probabilities(probs: torch.Tensor, table: np.ndarray, num_classes: int) -> torch.Tensor:
    """Sum (C, H, W) probabilities into ``num_classes`` classes by a :func:`remap_table`."""
    target = torch.as_tensor(table[: probs.shape[0]].astype(np.int64))
    keep = target != IGNORE_INDEX
    merged = probs.new_zeros((num_classes, *probs.shape[1:]))
    return merged.index_add_(0, target[keep], probs[keep])


# ---------------------------------------------------------------- pictures


def _painted(visible: Iterable[int]) -> np.ndarray:
    painted = np.zeros(256, dtype=bool)
    painted[list(visible)] = True
    return painted


def overlay(
    image: np.ndarray, labels: np.ndarray, schema: Schema, visible: Iterable[int], opacity: float
) -> np.ndarray:
    """The image with the ``visible`` classes painted in their colors at ``opacity`` (0..1)."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    base = Image.fromarray(image)
    painted = Image.blend(base, Image.fromarray(schema.colorize(labels)), opacity)
    # PIL's blend and composite: about 3x faster than the same arithmetic in numpy.
    return np.asarray(Image.composite(painted, base, Image.fromarray(_painted(visible)[labels])))


def color_map(labels: np.ndarray, schema: Schema, visible: Iterable[int] | None = None) -> np.ndarray:
    """The color-coded label map; classes not ``visible`` are left white (the ignore color)."""
    if visible is not None:
        labels = np.where(_painted(visible)[labels], labels, IGNORE_INDEX)
    return schema.colorize(labels)


def disagreement_view(image: np.ndarray, disagree: np.ndarray) -> np.ndarray:
    """A dimmed gray copy of the image with the disagreeing pixels in magenta."""
    gray = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * 0.5 + 64
    out = np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
    out[disagree] = DISAGREEMENT_COLOR
    return out


def class_shares(labels: np.ndarray, schema: Schema) -> list[tuple[int, str, float]]:
    """(id, name, percent of pixels) for every class of ``schema``."""
    counts = np.bincount(labels.ravel(), minlength=256)[: schema.num_classes]
    percent = counts * 100.0 / max(1, labels.size)
    return [(i, name, float(p)) for i, (name, p) in enumerate(zip(schema.names, percent))]


# ---------------------------------------------------------------- files


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Level 1: files a little larger, encoding several times faster than the default.
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a crash never leaves half a PNG behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def layers_zip(image: np.ndarray, labels: np.ndarray, schema: Schema) -> bytes:
    """A zip of one RGBA PNG per class present: the image, transparent outside that class.

    Layers have the image's size, so stacking them in an editor rebuilds the picture.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for class_id in np.unique(labels):
            if class_id >= schema.num_classes:
                continue
            alpha = np.where(labels == class_id, 255, 0).astype(np.uint8)
            rgba = np.dstack([image, alpha])
            zf.writestr(f"{class_id:02d}_{schema.names[class_id]}.png", png_bytes(rgba))
    return buffer.getvalue()


def export(prediction: Prediction, use: str, schema: Schema, out_dir: Path) -> list[Path]:
    """Write the index label map, the color map and the zip of per-class layers; return their paths."""
    labels = prediction.labels(use, schema)
    stem = out_dir / prediction.name
    files = {
        Path(f"{stem}_labels.png"): png_bytes(labels),
        Path(f"{stem}_colors.png"): png_bytes(color_map(labels, schema)),
        Path(f"{stem}_layers.zip"): layers_zip(prediction.image, labels, schema),
    }
    for path, data in files.items():
        write_atomic(path, data)
    return list(files)


# ---------------------------------------------------------------- batch command


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m animeparse.predict",
        description="Parse many images: write index label maps, color maps and optionally overlays.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders of images (not recursive)")
    parser.add_argument("--out", type=Path, required=True, help="output folder; gets labels/, colors/ and overlays/")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A: a Hub id or a local checkpoint folder")
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B: a Hub id or a local checkpoint folder")
    parser.add_argument("--use", default=ENSEMBLE, choices=USES, help="which branch to use, or A+B: their average")
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
    return args


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


def parse_file(path: Path, branches: Mapping[str, Branch], args: argparse.Namespace, schema: Schema | None) -> None:
    """Parse one image and write its maps under ``args.out``."""
    original = load_rgb(path)
    prediction = predict(branches, fit_within(original, args.max_side), args.use)
    schema = schema or prediction.schema
    labels = prediction.labels(args.use, schema)
    if labels.shape != (original.height, original.width):
        labels = np.asarray(Image.fromarray(labels).resize(original.size, Image.NEAREST))
    name = f"{path.stem}.png"
    write_atomic(args.out / "labels" / name, png_bytes(labels))
    write_atomic(args.out / "colors" / name, png_bytes(color_map(labels, schema)))
    if args.overlays:
        painted = range(1, schema.num_classes)  # everything but the background
        image = np.asarray(original)
        write_atomic(args.out / "overlays" / name, png_bytes(overlay(image, labels, schema, painted, args.opacity)))


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
        branches = load_branches({name: models[name] for name in needed_branches(args.use)})
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    options = schema_options(model_schema(next(iter(branches.values()))[0]))
    if args.classes is not None and args.classes not in options:
        print(f"error: --classes {args.classes}: the models offer {sorted(options, key=int)}", file=sys.stderr)
        return 2
    schema = options.get(args.classes) if args.classes else None

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
