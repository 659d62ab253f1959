"""Export a checkpoint to ONNX: the ``onnx/`` folder that ONNX Runtime and transformers.js load.

    python -m animeparse.export MODEL_DIR_OR_HUB_ID [--out DIR] [--no-quantize] [--exact-graph]

writes, beside the safetensors weights (the layout transformers.js expects):

    onnx/model.onnx            fp32, input ``pixel_values`` (batch, 3, height, width), output
                               ``logits`` (batch, classes, height/4, width/4); batch, height and
                               width are dynamic
    onnx/model_quantized.onnx  int8 weights of the matrix multiplies (dynamic quantization)

A Hub id is downloaded and saved, weights included, to ``--out``; a local folder gets its
``onnx/`` folder in place (or in ``--out``).

The graph comes from torch's exporter (``torch.onnx.export(dynamo=True)``): optimum's exporter
needs transformers < 4.58, and the legacy TorchScript exporter is deprecated. The decode head is
exported folded (:class:`_FusedHead`: the same function at a third of the FLOPs). Every export is
checked before it is kept: ONNX Runtime must reproduce PyTorch's logits within
``LOGIT_TOLERANCE`` on probe inputs of several shapes (square, not square, not a multiple of 32,
batch of two), so an export that goes wrong at some shape fails here, not in a user's hands.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from animeparse.model import ModelLoadError, load_model, save_model

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
QUANTIZED_FILE = "model_quantized.onnx"
ONNX_FILES = {"fp32": FP32_FILE, "quantized": QUANTIZED_FILE}
"""The files of an exported model, by the variant names :func:`animeparse.onnx_backend.load_onnx_model` takes."""

OPSET = 18
"""ONNX opset of the exported graph: the exporter's own; ONNX Runtime 1.17+ and onnxruntime-web run it."""

LOGIT_TOLERANCE = 1e-3
"""Largest difference between ONNX Runtime's and PyTorch's fp32 logits an export may have."""

QUANTIZED_OPS = ["MatMul"]
"""Operators whose weights the quantized variant stores as int8. Convolutions stay fp32: in a
trial on B0, quantizing them too halved the file again but doubled the pixels that differ from
fp32 (0.2-0.5% instead of 0.1-0.2%) and ran no faster."""

MAX_SIDE = 8192
"""Largest height or width the exported graph accepts (a bound torch.export asks for)."""


class ExportError(RuntimeError):
    """An export that failed or does not reproduce PyTorch; the message says where."""


@dataclass
class Agreement:
    """How an ONNX model's logits compare with PyTorch's on the same inputs."""

    max_abs_diff: float
    pixel_agreement: float
    """Fraction of output pixels whose argmax class is the same."""

    def __str__(self) -> str:
        return f"max |logit difference| {self.max_abs_diff:.2e}, same class on {100 * self.pixel_agreement:.3f}% of pixels"


class _Logits(torch.nn.Module):
    """The model with a plain tensor in and out: ``pixel_values`` -> ``logits``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


class _FusedHead(torch.nn.Module):
    """SegFormer with its decode head's linear algebra reordered: the same function, a third of the work.

    The head projects each stage's features to D channels, upsamples them to the first stage's
    size, concatenates the four maps and mixes them with a 1x1 convolution (4D -> D), then batch
    norm. Projection, mixing and the (eval-mode) batch norm are all linear, and bilinear
    upsampling is linear per channel and keeps constants, so each stage's projection, its block
    of the mixing weights and the norm's scale fold into one 1x1 convolution run at the stage's
    own resolution, before upsampling; the four results are summed. For B0 at 512x512 the
    mixing convolution alone is 8.6 of the model's 13.6 GFLOP; folded, the head costs about 0.5.
    """

    def __init__(self, model):
        super().__init__()
        head = model.decode_head
        self.encoder = model.segformer
        bn = head.batch_norm
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        n = len(head.linear_projections)
        d = head.linear_fuse.out_channels
        # the head concatenates the stages last first: block j of the weights mixes stage n - 1 - j
        blocks = head.linear_fuse.weight[:, :, 0, 0].split(d, dim=1)
        self.projections = torch.nn.ModuleList()
        for i, mlp in enumerate(head.linear_projections):
            mix = blocks[n - 1 - i]
            conv = torch.nn.Conv2d(mlp.proj.in_features, d, kernel_size=1)
            with torch.no_grad():
                conv.weight.copy_((scale[:, None] * (mix @ mlp.proj.weight))[:, :, None, None])
                conv.bias.copy_(scale * (mix @ mlp.proj.bias) + (shift if i == 0 else 0))
            self.projections.append(conv)
        self.activation = head.activation
        self.classifier = head.classifier

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        stages = self.encoder(pixel_values, output_hidden_states=True).hidden_states
        size = stages[0].shape[2:]
        x = self.projections[0](stages[0])
        for projection, stage in zip(self.projections[1:], stages[1:]):
            x = x + torch.nn.functional.interpolate(projection(stage), size=size, mode="bilinear", align_corners=False)
        return self.classifier(self.activation(x))


def _stage_sizes(config, side: int) -> list[int]:
    """Every spatial size a SegFormer encoder computes from an input side: each stage's patch
    embedding output and, where the stage reduces its keys and values (``sr_ratios``), the reduced map."""
    sizes = []
    for kernel, stride, ratio in zip(config.patch_sizes, config.strides, config.sr_ratios):
        side = (side + 2 * (kernel // 2) - kernel) // stride + 1  # the overlapping patch embedding
        sizes.append(side)
        if ratio > 1:
            sizes.append(side // ratio)  # the reduction convolution: kernel = stride = ratio
    return sizes


def trace_size(config, preferred: int) -> int:
    """The side of the square example the export traces: ``preferred`` (the processor's size, so
    a model's graph is traced where it is used), or else the smallest larger multiple of the
    encoder's total stride (a regular size, like the processors') at which every size in
    :func:`_stage_sizes` is at least 2.

    torch.export specialises any size it sees as 0 or 1 and guards on it; a guard such as
    ``(height/4)//8 == 1`` (B0's first attention map at a 48-px example) contradicts the dynamic
    height and width, and the export fails with a constraint violation. Traced at a side where
    no size is 1, the graph stays general and still runs inputs where some are (the probes check)."""
    side = max(preferred, 1)
    step = math.prod(config.strides)
    while min(_stage_sizes(config, side)) < 2:
        side = (side // step + 1) * step
    return side


def export_fp32(model, path: Path, example_size: int = 64, opset: int = OPSET, fuse_head: bool = True) -> None:
    """Write ``model`` (eval mode) as ONNX with dynamic batch, height and width; ``fuse_head``:
    with the decode head reordered (:class:`_FusedHead`), else as transformers runs it.
    ``example_size`` is raised as :func:`trace_size` needs."""
    import onnx
    from torch.export import Dim

    # A batch of two and no size of 1 inside: torch.export fixes a dimension it sees as 1.
    side = trace_size(model.config, example_size)
    example = torch.randn(2, 3, side, side)
    model.eval()
    graph = _FusedHead(model) if fuse_head and model.config.reshape_last_stage else _Logits(model)
    dims = {0: Dim("batch", max=1024), 2: Dim("height", min=8, max=MAX_SIDE), 3: Dim("width", min=8, max=MAX_SIDE)}
    with warnings.catch_warnings(), _quiet("torch.onnx"):
        warnings.simplefilter("ignore")  # deprecations inside torch.export, torchvision not installed
        program = torch.onnx.export(
            graph.eval(), (example,), dynamo=True, opset_version=opset, verbose=False,
            input_names=["pixel_values"], output_names=["logits"], dynamic_shapes={"pixel_values": dims},
        )  # fmt: skip
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]  # the exporter's stack traces: most of a small model's bytes
    onnx.save(proto, str(path))


@contextlib.contextmanager
def _quiet(logger: str):
    """Silence a library's log warnings (the exporter's, the quantizer's) for the ``with`` body."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def quantize(fp32_path: Path, out_path: Path) -> None:
    """Dynamic int8 quantization of the matrix-multiply weights (activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet(""):  # its advice to run shape pre-processing first goes to the root logger
        quantize_dynamic(fp32_path, out_path, op_types_to_quantize=QUANTIZED_OPS, weight_type=QuantType.QInt8)


def session(path: str | Path, threads: int = 0):
    """An ONNX Runtime CPU session (``threads=0``: ONNX Runtime's default, one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    # Idle worker threads would otherwise spin for a while after each run, taking the CPU from
    # whatever runs next (PyTorch, the app's post-processing) on a machine with few cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.inference_mode()
def compare(model, onnx_session, pixel_values: torch.Tensor) -> Agreement:
    """ONNX Runtime against PyTorch on one batch of ``pixel_values``."""
    expected = model(pixel_values=pixel_values).logits.numpy()
    got = onnx_session.run(["logits"], {"pixel_values": pixel_values.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportError(f"ONNX logits have shape {got.shape}, PyTorch's {expected.shape} (input {tuple(pixel_values.shape)})")
    return Agreement(
        max_abs_diff=float(np.abs(got - expected).max()),
        pixel_agreement=float((got.argmax(1) == expected.argmax(1)).mean()),
    )


def probe_inputs(size: int, seed: int = 0) -> list[torch.Tensor]:
    """Normalised-image-like inputs of the shapes a user's image can take after preprocessing."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(2, size, size), (1, size * 3 // 4, size), (1, size + 13, size // 2 + 7)]
    return [torch.randn(b, 3, h, w, generator=g) for b, h, w in shapes]


def check(model, onnx_path: Path, size: int, tolerance: float = LOGIT_TOLERANCE) -> Agreement:
    """The worst agreement over :func:`probe_inputs`; ExportError beyond ``tolerance``."""
    onnx_session = session(onnx_path)
    results = [compare(model, onnx_session, x) for x in probe_inputs(size)]
    worst = Agreement(max(r.max_abs_diff for r in results), min(r.pixel_agreement for r in results))
    if worst.max_abs_diff > tolerance:
        raise ExportError(f"{onnx_path} does not reproduce PyTorch: {worst} (tolerance {tolerance})")
    return worst


def processor_size(processor) -> int:
    """The side of the square the processor resizes images to: the export's example and probe size."""
    size = dict(processor.size)
    return int(size.get("height") or size.get("shortest_edge") or 512)


def export_checkpoint(
    source: str | Path, out: str | Path | None = None, quantized: bool = True, fuse_head: bool = True, log=print
) -> Path:
    """Export the checkpoint ``source`` (folder or Hub id); returns the folder that holds ``onnx/``.

    Files are written to a temporary folder and moved into place only after the check passes.
    """
    local = Path(source).is_dir()
    if out is None and not local:
        raise ExportError(f"{source!r} is not a local folder: pass --out DIR to save the Hub model and its ONNX export there")
    model, processor = load_model(source)
    target = Path(out) if out is not None else Path(source)
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "config.json").exists():
        save_model(model, processor, target)  # a Hub model, or a copy for --out: weights beside the graph

    tmp = Path(tempfile.mkdtemp(dir=target, prefix=".onnx-"))
    try:
        size = processor_size(processor)
        log(f"exporting {source} (dynamic batch, height and width; opset {OPSET})")
        export_fp32(model, tmp / FP32_FILE, example_size=size, fuse_head=fuse_head)
        log(f"check against PyTorch: {check(model, tmp / FP32_FILE, size)}")
        if quantized:
            quantize(tmp / FP32_FILE, tmp / QUANTIZED_FILE)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = target / ONNX_DIR
    if final.exists():
        shutil.rmtree(final)
    tmp.chmod(0o755)  # mkdtemp makes it private; the folder is served and uploaded as is
    tmp.rename(final)
    for path in sorted(final.iterdir()):
        log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return target


def carry_onnx(source: Path, dest: Path, log=print) -> None:
    """Give the checkpoint copied from ``source`` to ``dest`` an ``onnx/`` folder: ``source``'s
    own if it has one, else a fresh export (for publishing: a model folder always ships its ONNX)."""
    if not (source / ONNX_DIR / FP32_FILE).is_file():
        export_checkpoint(dest, log=log)
    elif Path(source).resolve() != Path(dest).resolve():
        shutil.copytree(source / ONNX_DIR, dest / ONNX_DIR, dirs_exist_ok=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m animeparse.export",
        description="Export a checkpoint to onnx/model.onnx and onnx/model_quantized.onnx (ONNX Runtime, transformers.js).",
    )
    parser.add_argument("model", help="a checkpoint folder or a Hub id")
    parser.add_argument("--out", default=None, help="folder to write to (required for a Hub id; default: the checkpoint folder)")
    parser.add_argument("--no-quantize", action="store_true", help="write the fp32 model only")
    parser.add_argument(
        "--exact-graph", action="store_true",
        help="keep the decode head's order of operations as transformers runs it (slower; same function and outputs)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        export_checkpoint(args.model, args.out, quantized=not args.no_quantize, fuse_head=not args.exact_graph)
    except ImportError as e:
        print(f"error: exporting needs onnx, onnxscript and onnxruntime (pip install -r requirements.txt): {e}", file=sys.stderr)
        return 1
    except (ModelLoadError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
