"""Inference: an image -> each branch's logits -> label maps, by one rule for the whole project.

The two co-trained branches (A and B) are kept. A :class:`Prediction` holds each branch's
logits at the model's output resolution (a quarter of its input size: 16 x 128 x 128 floats for
a 512-px model), so everything a viewer changes afterwards (16 or 13 classes, class toggles,
overlay opacity, the disagreement view) is computed from them without running a model again.
A branch that was not needed yet (the ensemble after viewing only A, say) runs once, on demand.

:func:`class_scores` is the rule by which every label map is made, in the app, the batch command
and training's metrics alike: logits upsampled bilinearly to the image size, then argmax. One
branch in its own classes is exactly transformers' ``post_process_semantic_segmentation``. The
A+B ensemble and coarser schemas work on probabilities: the ensemble averages the branches'
softmax, and a merged class (13-class "eyes" = eyes + eyebrows) gets the sum of its members'
probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import SegformerForSemanticSegmentation, SegformerImageProcessorPil

from animeparse.branches import BRANCHES, ENSEMBLE, needed_branches
from animeparse.images import ImageError, fit_within, load_rgb
from animeparse.labels import IGNORE_INDEX, Schema, remap_table
from animeparse.model import ModelLoadError
from animeparse.onnx_backend import load_backend_model

DEFAULT_MODELS = Path(__file__).resolve().parent.parent / "models" / "animeparse-b0"
DEFAULT_MODEL_A = str(DEFAULT_MODELS / "model_a")
DEFAULT_MODEL_B = str(DEFAULT_MODELS / "model_b")

MAX_SIDE = 2048
"""Images are parsed at most this large (longer side); larger ones are downscaled first. The
models see 512 px anyway, and full-size score maps of bigger images would take gigabytes."""

Branch = tuple[SegformerForSemanticSegmentation, SegformerImageProcessorPil]
"""A loaded model and its image processor, as :func:`animeparse.model.load_model` returns them."""


# ---------------------------------------------------------------- models


def model_schema(model) -> Schema:
    """The schema of a model's classes: the canonical one (with its merges) when the names match."""
    return Schema.from_id2label(model.config.id2label, name=f"{len(model.config.id2label)}-class model")


def load_branches(models: Mapping[str, str], backend: str = "torch") -> dict[str, Branch]:
    """Load each named branch ({"A": id or path, ...}); all must share one class list.

    ``backend="onnx"`` runs each checkpoint's ``onnx/model.onnx`` (``python -m animeparse.export``)
    with ONNX Runtime instead of PyTorch; everything else (preprocessing, label maps) is the same.
    """
    branches = {name: load_backend_model(source, backend) for name, source in models.items()}
    schemas = {name: model_schema(model) for name, (model, _) in branches.items()}
    first = next(iter(schemas))
    for name, schema in schemas.items():
        if schema.names != schemas[first].names:
            raise ModelLoadError(
                f"model {name} ({models[name]}) has classes {list(schema.names)}, but model {first} "
                f"({models[first]}) has {list(schemas[first].names)}; both branches must share one schema"
            )
    return branches


@torch.inference_mode()
def branch_logits(branch: Branch, image: Image.Image) -> torch.Tensor:
    """One forward pass: (C, h, w) float32 logits at the model's output resolution."""
    model, processor = branch
    # The processor's numpy array, shared by the tensor: return_tensors="pt" copies it once more.
    pixel_values = torch.from_numpy(processor(images=image, return_tensors="np")["pixel_values"])
    logits = model(pixel_values=pixel_values.to(model.device, model.dtype)).logits
    return logits[0].float().cpu()


# ---------------------------------------------------------------- the label-map rule


def merge_probabilities(probs: torch.Tensor, table: np.ndarray, num_classes: int) -> torch.Tensor:
    """Sum (C, H, W) probabilities into ``num_classes`` classes by a :func:`remap_table`."""
    target = torch.as_tensor(table[: probs.shape[0]].astype(np.int64), device=probs.device)
    keep = target != IGNORE_INDEX
    merged = probs.new_zeros((num_classes, *probs.shape[1:]))
    return merged.index_add_(0, target[keep], probs[keep])


def class_scores(logits: Sequence[torch.Tensor], size: tuple[int, int], schema: Schema, target: Schema) -> torch.Tensor:
    """(classes of ``target``, H, W) scores whose argmax is the label map of the branches whose
    (C, h, w) ``logits`` are given, in the classes of ``target`` (``schema`` or one of its merges).

    One branch in its own classes: its logits upsampled to ``size`` (their argmax is
    transformers' post-processing). Otherwise probabilities: the branches' softmax averaged,
    a merged class getting the sum of its members'.
    """
    if len(logits) == 1 and target == schema:
        return _upsample(logits[0], size)
    first, *others = logits
    probs = _upsample(first, size).softmax(0)
    for more in others:  # in place: these are (C, H, W) floats at full image size
        probs += _upsample(more, size).softmax(0)
    probs /= len(logits)
    if target == schema:
        return probs
    return merge_probabilities(probs, remap_table(schema, target), target.num_classes)


def label_map(scores: torch.Tensor) -> torch.Tensor:
    """(H, W) class ids: the argmax of :func:`class_scores` (first maximum on ties)."""
    # max().indices: the same first-maximum rule as argmax, about 8x faster on CPU here.
    return scores.max(0).indices


def label_array(scores: torch.Tensor) -> np.ndarray:
    """(H, W) uint8 class ids: :func:`label_map` as the array a :class:`Prediction` keeps."""
    # numpy narrows the int64 ids on one thread: no parallel torch operation to schedule.
    return label_map(scores).numpy().astype(np.uint8)


def _upsample(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(logits.float()[None], size=size, mode="bilinear", align_corners=False)[0]


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

    def labels(self, use: str, schema: Schema) -> np.ndarray:
        """(H, W) uint8 label map in ``schema``'s ids (the models' classes or one of their merges)."""
        key = (use, schema.name)
        if key not in self._labels:
            missing = [b for b in needed_branches(use) if b not in self.logits]
            if missing:
                raise ValueError(f"model {missing[0]} has not run on this image; call run() first")
            logits = [self.logits[b] for b in needed_branches(use)]
            scores = class_scores(logits, self.size, self.schema, schema)
            self._labels[key] = label_array(scores)
        return self._labels[key]

    def disagreement(self, schema: Schema) -> np.ndarray:
        """(H, W) bool: where branch A and branch B pick different classes."""
        return self.labels(BRANCHES[0], schema) != self.labels(BRANCHES[1], schema)


def predict(branches: Mapping[str, Branch], image: Image.Image, use: str = ENSEMBLE, name: str = "image") -> Prediction:
    """Run the branches ``use`` needs on an RGB image."""
    schema = model_schema(next(iter(branches.values()))[0])
    return Prediction(np.asarray(image.convert("RGB")), schema, name).run(branches, use)


@dataclass
class Ranked:
    path: Path
    disagreement: float | None
    """Share of pixels (0..1) where branches A and B pick different classes; None if unreadable."""
    problem: str = ""


def rank_by_disagreement(
    branches: Mapping[str, Branch], files: Sequence[Path], schema: Schema | None = None, max_side: int = MAX_SIDE
) -> list[Ranked]:
    """The images that are most worth labeling next first: ordered by the share of pixels where the
    two branches disagree (the co-training's own uncertainty). Unreadable files come last, with why."""
    ranked = []
    for path in files:
        try:
            image = fit_within(load_rgb(path), max_side)
        except ImageError as e:
            ranked.append(Ranked(Path(path), None, str(e)))
            continue
        prediction = predict(branches, image, ENSEMBLE)
        share = float(prediction.disagreement(schema or prediction.schema).mean())
        ranked.append(Ranked(Path(path), share))
    return sorted(ranked, key=lambda r: (r.disagreement is None, -(r.disagreement or 0.0)))
