"""Building, saving and loading the SegFormer models.

A saved model is a plain transformers checkpoint (safetensors weights, ``id2label`` in its
config, a ``SegformerImageProcessor`` beside it), so ``pipeline("image-segmentation", model=DIR)``
loads it with no custom code.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from transformers import SegformerConfig, SegformerForSemanticSegmentation

# The PIL backend by name: SegformerImageProcessor itself needs torchvision (which cannot be installed
# beside this torch) and otherwise falls back to this same class with a warning on every start.
from transformers import SegformerImageProcessorPil

from animeparse.images import IMAGENET_MEAN, IMAGENET_STD
from animeparse.labels import IGNORE_INDEX, Schema
from animeparse.sources import is_local

# Encoder widths and depths of the SegFormer (MiT) sizes, from the SegFormer paper, Table 1;
# the same values as the nvidia/mit-b* configs, so a scratch model matches a pretrained one.
SCRATCH_SIZES: dict[str, dict] = {
    "b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b1": dict(hidden_sizes=[64, 128, 320, 512], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b2": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768),
}


class ModelLoadError(RuntimeError):
    """A model named by the user cannot be loaded; the message says which and why."""


def make_processor(size: int = 512) -> SegformerImageProcessorPil:
    """The image processor saved beside every model. Background is a real class, so labels are
    not reduced (``do_reduce_labels=False``)."""
    return SegformerImageProcessorPil(
        do_resize=True,
        size={"height": size, "width": size},
        do_normalize=True,
        image_mean=IMAGENET_MEAN,
        image_std=IMAGENET_STD,
        do_reduce_labels=False,
    )


def input_size(size: dict, width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` the model sees a picture framed by :func:`animeparse.images.pad_to_frame`
    at: the processor's ``size`` for a square (or taller) one; for a wider one the processor's
    height and a width in proportion, to a multiple of 32 (the encoder's coarsest stride)."""
    if width <= height:
        return size["width"], size["height"]
    return max(size["width"], round(width * size["height"] / height / 32) * 32), size["height"]


def model_input(processor: SegformerImageProcessorPil, image: Image.Image) -> np.ndarray:
    """(1, 3, H, W) float32 ``pixel_values`` of one RGB picture (its frame,
    :func:`animeparse.images.pad_to_frame`), at :func:`input_size`: for a square, the
    ``processor``'s own, bit for bit, in a third of its time (it rescales in float64 and normalizes
    in more passes over the pixels; here each 8-bit value is looked up in a table of those very
    results). A processor that does not resize to a fixed size, rescale and normalize is called as
    it is."""
    size = processor.size
    if not (processor.do_resize and processor.do_rescale and processor.do_normalize and "height" in size):
        return processor(images=image, return_tensors="np")["pixel_values"]
    rgb = np.asarray(image.convert("RGB").resize(input_size(size, *image.size), processor.resample))
    # a mean or std may be one number for all channels
    mean, std = (tuple(np.broadcast_to(v, 3).tolist()) for v in (processor.image_mean, processor.image_std))
    table = _normalized_values(processor.rescale_factor, mean, std).reshape(3, 256)
    pixel_values = np.empty((1, 3, *rgb.shape[:2]), np.float32)
    for channel in range(3):  # one gather per channel, straight into its plane
        table[channel].take(rgb[..., channel], out=pixel_values[0, channel])
    return pixel_values


@functools.lru_cache(maxsize=4)
def _normalized_values(rescale: float, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3 * 256,) float32: each channel's 8-bit values through transformers' ``rescale`` (float64,
    then float32) and ``normalize`` (float32), by the same numpy operations, so the same roundings."""
    values = (np.arange(256).astype(np.float64) * rescale).astype(np.float32)
    return ((values[None] - np.array(mean, np.float32)[:, None]) / np.array(std, np.float32)[:, None]).ravel()


def label_config(schema: Schema) -> dict:
    return dict(
        num_labels=schema.num_classes,
        id2label=schema.id2label,
        label2id=schema.label2id,
        semantic_loss_ignore_index=IGNORE_INDEX,
    )


def scratch_config(size: str, schema: Schema, **overrides) -> SegformerConfig:
    """A randomly initialised SegFormer of a named size (``b0``, ``b1``, ``b2``)."""
    if size not in SCRATCH_SIZES:
        raise ValueError(f"unknown SegFormer size {size!r}; choose one of {sorted(SCRATCH_SIZES)}")
    return SegformerConfig(**{**SCRATCH_SIZES[size], **label_config(schema), **overrides})  # overrides win


def build_model(
    init: str, schema: Schema, scratch_size: str = "b0", **scratch_overrides
) -> SegformerForSemanticSegmentation:
    """A segmentation model for ``schema``: ``init="scratch"`` or a Hub id / local checkpoint.

    A pretrained encoder keeps its weights; the decode head is new when the class count differs.
    ``scratch_overrides`` (SegformerConfig fields) apply to scratch models only.
    """
    if init == "scratch":
        return SegformerForSemanticSegmentation(scratch_config(scratch_size, schema, **scratch_overrides))
    try:
        return SegformerForSemanticSegmentation.from_pretrained(
            init, **label_config(schema), ignore_mismatched_sizes=True, use_safetensors=True
        )
    except OSError as e:
        raise ModelLoadError(_load_hint(init, e)) from None


def load_model(name_or_path: str | Path) -> tuple[SegformerForSemanticSegmentation, SegformerImageProcessorPil]:
    """Load a saved model and its processor (safetensors only) in eval mode."""
    try:
        model = SegformerForSemanticSegmentation.from_pretrained(name_or_path, use_safetensors=True)
    except OSError as e:
        raise ModelLoadError(_load_hint(str(name_or_path), e, "Pass a Hub id or a local checkpoint folder.")) from None
    try:
        processor = SegformerImageProcessorPil.from_pretrained(name_or_path)
    except OSError:
        processor = make_processor()  # a bare encoder checkpoint (e.g. nvidia/mit-b0) has none
    return model.eval(), processor


def save_model(model, processor: SegformerImageProcessorPil, out_dir: str | Path) -> None:
    """Save weights (safetensors), config and processor so ``pipeline(...)`` can load ``out_dir``."""
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)


def _load_hint(name: str, error: Exception, advice: str = "Pass a local checkpoint folder or --init scratch.") -> str:
    if is_local(name):
        return f"cannot load model from {name}: {error}"
    return (
        f"cannot load model {name!r}: it is not a local folder and the Hugging Face Hub did not provide it "
        f"(offline, HF_HUB_OFFLINE set, a typo, or a private repo without a token). "
        f"{advice} Details: {error}"
    )
