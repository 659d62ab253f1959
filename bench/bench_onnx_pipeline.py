"""The ONNX backend end to end: the batch command, torch vs onnx, and the app's prediction vs
the bare ONNX forward it wraps.

    python -m animeparse.export models/animeparse-b0/model_a    # and model_b: the onnx/ exports
    python bench/bench_onnx_pipeline.py --pictures DIR [--count 100] [--app-repeats 10]

1. ``python -m animeparse.predict`` (in process, A+B as by default) over the same ``--count``
   pictures with ``--backend torch`` and ``--backend onnx``: pictures per second, and whether
   the label maps are the same (``--count 0`` skips it).
2. The app's API handler (``app.parse``, model A, 16 classes) on the first picture vs the bare
   forward pass alone on that picture's preprocessed input, interleaved, for each backend (ONNX
   Runtime's ``session.run``; PyTorch's ``model(pixel_values)``) with and without the flip (then
   the forward pass is on the picture and its mirror image, a batch of two): the ratio is the
   app's overhead (reading, preprocessing, averaging, upsampling, argmax, writing the PNG).
Times are medians measured side by side in one process; quote the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from animeparse.images import load_rgb, pad_to_frame
from animeparse.inference import DEFAULT_MODEL_A, DEFAULT_MODEL_B, FlipAveraged
from animeparse.model import model_input
from animeparse.predict import collect_inputs
from animeparse.predict import main as predict_main

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_app, beside this file
from bench_app import import_app  # noqa: E402


def batch(pictures: list[Path], out: Path, backend: str, models: dict[str, str]) -> float:
    """Seconds the batch command takes over ``pictures``."""
    started = time.perf_counter()
    code = predict_main([*map(str, pictures), "--out", str(out), "--backend", backend,
                         "--model-a", models["A"], "--model-b", models["B"]])
    if code != 0:
        raise SystemExit(f"the batch command failed with --backend {backend} (exit {code})")
    return time.perf_counter() - started


def same_labels(a: Path, b: Path) -> float:
    """Fraction of pixels with the same label over all label maps in two output folders."""
    same = total = 0
    for path in sorted((a / "labels").iterdir()):
        x, y = np.asarray(Image.open(path)), np.asarray(Image.open(b / "labels" / path.name))
        same += int((x == y).sum())
        total += x.size
    return same / total


def batch_command(pictures: list[Path], models: dict[str, str]) -> None:
    """The batch command over ``pictures``, torch vs onnx backend: speed, and the same labels."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = {backend: batch(pictures, Path(tmp) / backend, backend, models) for backend in ("torch", "onnx")}
        agreement = same_labels(Path(tmp) / "torch", Path(tmp) / "onnx")
    sizes = [load_rgb(p).size for p in pictures]
    print(f"\nbatch command, A+B, {len(pictures)} pictures (median {statistics.median(w * h for w, h in sizes) / 1e6:.2f} MP):")
    for backend, s in seconds.items():
        print(f"  {backend:6s} {s:7.1f} s  {len(pictures) / s:5.2f} pictures/s")
    print(f"  onnx / torch speed: {seconds['torch'] / seconds['onnx']:.2f}x; same label on {100 * agreement:.3f}% of pixels")


def app_vs_forward(app, backend: str, picture: Path, repeats: int) -> None:
    """app.parse (model A, 16 classes) vs the bare forward pass it wraps, timed in turns. With the
    flip, that pass is the model on a batch of two (the picture and its mirror image)."""
    model, processor = app.MODELS["A"]
    flip = isinstance(model, FlipAveraged)
    model = model.model if flip else model
    image = load_rgb(picture)
    pixel_values = model_input(processor, pad_to_frame(image))
    if flip:
        pixel_values = FlipAveraged.mirrored_batch(torch.from_numpy(pixel_values)).numpy()
    if backend == "onnx":
        feed = {"pixel_values": pixel_values}
        forward = lambda: model.session.run(None, feed)  # noqa: E731
    else:
        tensor = torch.from_numpy(pixel_values)

        def forward():
            with torch.inference_mode():
                return model(pixel_values=tensor).logits

    app.parse({"path": str(picture)}, "A", "16")
    forward()
    app_ms, bare_ms = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        app.parse({"path": str(picture)}, "A", "16")
        app_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        forward()
        bare_ms.append((time.perf_counter() - t) * 1000)
    a, b = statistics.median(app_ms), statistics.median(bare_ms)
    engine = {"onnx": "ONNX", "torch": "PyTorch"}[backend]
    print(f"\napp.parse ({backend}, {'flip' if flip else 'no flip'}, model A) on {picture.name} ({image.width}x{image.height}, model input "
          f"{len(pixel_values)}x{pixel_values.shape[2]}x{pixel_values.shape[3]}): {a:.0f} ms; bare {engine} forward {b:.0f} ms; "
          f"ratio {a / b:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=Path, required=True, help="folder of pictures (real art)")
    parser.add_argument("--count", type=int, default=100, help="pictures for the batch command (0: skip it)")
    parser.add_argument("--app-repeats", type=int, default=10, help="timed rounds of the app vs the bare forward")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A: a checkpoint folder with onnx/")
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B: a checkpoint folder with onnx/")
    args = parser.parse_args()
    models = {"A": args.model_a, "B": args.model_b}
    pictures = collect_inputs([args.pictures])
    if not pictures:
        raise SystemExit(f"no pictures in {args.pictures}")
    for model in models.values():
        if not (Path(model) / "onnx" / "model.onnx").is_file():
            raise SystemExit(f"no ONNX export in {model}: run python -m animeparse.export {model}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    # ---------------------------------------------------------------- the batch command
    if args.count > 0:
        batch_command(pictures[: args.count], models)

    # ---------------------------------------------------------------- the app vs the bare forward
    picture = pictures[0]
    for backend in ("onnx", "torch"):
        for flip in (False, True):
            app = import_app(models, BACKEND=backend, FLIP=str(int(flip)))
            app_vs_forward(app, backend, picture, args.app_repeats)


if __name__ == "__main__":
    main()
