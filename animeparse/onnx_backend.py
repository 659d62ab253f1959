"""ONNX Runtime backend: an exported model that stands in for the PyTorch one.

:func:`load_onnx_model` returns ``(model, processor)`` like :func:`animeparse.model.load_model`;
the model answers ``model(pixel_values=...)`` with an output whose ``.logits`` is a float32
tensor, and has the ``config`` (``id2label``), ``device`` and ``dtype`` the inference code reads.
So the same preprocessing, label-map rule and exports run on either backend, and only the
forward pass differs. The ``onnx/`` folder comes from ``python -m animeparse.export``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import SegformerConfig, SegformerImageProcessorPil
from transformers.modeling_outputs import SemanticSegmenterOutput

from animeparse.export import ONNX_DIR, ONNX_FILES, session
from animeparse.model import ModelLoadError, make_processor

BACKENDS = ("torch", "onnx")


class OnnxSegmenter:
    """An ONNX Runtime session with the calling convention of ``SegformerForSemanticSegmentation``."""

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, path: str | Path, config: SegformerConfig, threads: int = 0):
        self.path = Path(path)
        self.config = config
        self.session = session(self.path, threads)

    def __call__(self, pixel_values: torch.Tensor) -> SemanticSegmenterOutput:
        (logits,) = self.session.run(["logits"], {"pixel_values": pixel_values.detach().cpu().float().numpy()})
        return SemanticSegmenterOutput(logits=torch.from_numpy(logits))

    def eval(self) -> "OnnxSegmenter":
        return self

    def __repr__(self) -> str:
        return f"OnnxSegmenter({str(self.path)!r})"


def load_onnx_model(name_or_path: str | Path, variant: str = "fp32", threads: int = 0):
    """Load ``onnx/model.onnx`` (or the ``quantized`` variant) of a checkpoint folder or Hub id,
    with its config and image processor. Errors say what is missing and how to make it."""
    if variant not in ONNX_FILES:
        raise ValueError(f"unknown ONNX variant {variant!r}; choose one of {sorted(ONNX_FILES)}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ModelLoadError("the onnx backend needs onnxruntime: pip install onnxruntime (or use --backend torch)") from None
    filename = f"{ONNX_DIR}/{ONNX_FILES[variant]}"
    folder = Path(name_or_path)
    if not folder.is_dir():
        folder = _download(str(name_or_path), filename)
    path = folder / filename
    if not path.is_file():
        raise ModelLoadError(
            f"{name_or_path} has no {filename}: export it first with `python -m animeparse.export {name_or_path}` "
            f"(or use --backend torch)"
        )
    try:
        config = SegformerConfig.from_pretrained(folder)
    except OSError as e:
        raise ModelLoadError(f"cannot read the config of {name_or_path}: {e}") from None
    try:
        processor = SegformerImageProcessorPil.from_pretrained(folder)
    except OSError:
        processor = make_processor()  # as load_model does for a checkpoint saved without one
    return OnnxSegmenter(path, config, threads), processor


def _download(repo_id: str, filename: str) -> Path:
    """The config, processor and one ONNX file of a Hub model (not its PyTorch weights)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", filename]))
    except Exception as e:  # offline, unknown repo, no access: all end the same way for the user
        raise ModelLoadError(
            f"cannot load model {repo_id!r}: it is not a local folder and the Hugging Face Hub did not provide it "
            f"({type(e).__name__}: {e})"
        ) from None


def load_backend_model(name_or_path: str | Path, backend: str = "torch", onnx_variant: str = "fp32"):
    """``(model, processor)`` of a checkpoint on the chosen backend (``torch`` or ``onnx``)."""
    if backend == "torch":
        from animeparse.model import load_model

        return load_model(name_or_path)
    if backend == "onnx":
        return load_onnx_model(name_or_path, onnx_variant)
    raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")

