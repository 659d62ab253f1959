"""How fast the app answers, as ratios measured side by side in one run.

    python bench/bench_app.py [--rounds 7] [--clients 16] [--size 512]

Both branches are SegFormer-B0 initialised from scratch with a processor at ``--size`` (weights do
not change the timing). Each round times, one after another on the same image so that machine
noise hits all alike:

- the bare forward pass: ``model(pixel_values)`` under ``torch.inference_mode`` on a ready tensor;
- a prediction as the server makes it: read the upload, run the branch(es), draw the overlay as
  the page's PNG (``parse_upload`` + ``show`` + gradio's postprocess and copy into its cache);
- a redraw after unchecking a class, and after changing the opacity (same path, no model).

Then ``--clients`` gradio_client clients call ``/parse`` at once on different images; every answer
is checked against the label map computed in-process, and p50/p95 latency is reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from gradio.processing_utils import move_files_to_cache
from PIL import Image

from animeparse.labels import SCHEMA_16
from animeparse.model import build_model, make_processor, save_model

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds; medians are reported")
    parser.add_argument("--clients", type=int, default=16, help="concurrent gradio_client clients")
    parser.add_argument("--size", type=int, default=512, help="image side and model input size in pixels")
    args = parser.parse_args()
    if args.rounds < 1 or args.clients < 1:
        parser.error("--rounds and --clients must be at least 1")
    if args.size < 64:
        parser.error(f"--size must be at least 64, got {args.size}")
    return args


def smooth_image(size: int, seed: int) -> np.ndarray:
    """Flat color regions with soft edges, closer to an illustration (and its PNG size) than noise."""
    coarse = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))


def random_pair(work: Path, size: int) -> dict[str, Path]:
    """Two randomly initialised B0 models (speed does not depend on the weights) saved under ``work``."""
    model_dirs = {}
    for seed, name in enumerate(("A", "B")):
        torch.manual_seed(seed)
        model_dirs[name] = work / name
        save_model(build_model("scratch", SCHEMA_16, "b0"), make_processor(size), model_dirs[name])
    return model_dirs


def import_app(model_dirs: Mapping[str, str | Path], **settings: str):
    """app.py as a module, loaded with the models ``{"A": dir, "B": dir}`` and other settings by
    their environment names without the prefix (``FLIP="0"``, ``BACKEND="onnx"``)."""
    os.environ.update({f"ANIMEPARSE_MODEL_{name}": str(path) for name, path in model_dirs.items()})
    os.environ.update({f"ANIMEPARSE_{key}": value for key, value in settings.items()})
    spec = importlib.util.spec_from_file_location("animeparse_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    work = Path(tempfile.mkdtemp(prefix="bench_app_"))
    app = import_app(random_pair(work, args.size))

    image_file = work / "bench.png"
    Image.fromarray(smooth_image(args.size, seed=0)).save(image_file)
    upload = str(image_file)  # what gradio's preprocessing hands the upload handler
    model, processor = app.MODELS["A"]
    pixel_values = processor(images=Image.open(image_file), return_tensors="pt")["pixel_values"]
    classes = list(SCHEMA_16.names[1:])

    def bare_forward() -> None:
        with torch.inference_mode():
            model(pixel_values=pixel_values)

    def server(use: str, shown: list[str], opacity: float, prediction=None):
        prediction = prediction or app.parse_upload(upload, use, "overlay")[0]
        result, *_ = app.show(prediction, use, "16", shown, opacity, "overlay")
        # What gradio does with the picture before the page can fetch it: into its cache.
        move_files_to_cache(app.result.postprocess(result["value"]), app.result, postprocess=True)
        return prediction

    # Warm-up: first calls allocate and pick kernels.
    bare_forward(), server("A", classes, 0.6), server(app.ENSEMBLE, classes, 0.6)

    times: dict[str, list[float]] = {k: [] for k in ("bare", "one", "both", "toggle", "opacity")}
    for _ in range(args.rounds):
        times["bare"].append(timed(bare_forward))
        kept = {}
        times["one"].append(timed(lambda: kept.setdefault("p", server("A", classes, 0.6))))
        times["both"].append(timed(lambda: server(app.ENSEMBLE, classes, 0.6)))
        times["toggle"].append(timed(lambda: server("A", classes[1:], 0.6, kept["p"])))
        times["opacity"].append(timed(lambda: server("A", classes[1:], 0.3, kept["p"])))
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"SegFormer-B0 at {args.size}x{args.size}, {torch.get_num_threads()} threads, median of {args.rounds} rounds")
    print(f"  bare forward pass                 {med['bare'] * 1000:8.1f} ms")
    print(f"  prediction, one branch            {med['one'] * 1000:8.1f} ms   {med['one'] / med['bare']:.2f}x bare forward (goal <= 1.3x)")
    print(f"  prediction, A+B ensemble          {med['both'] * 1000:8.1f} ms   {med['both'] / med['bare']:.2f}x bare forward (goal <= 2.3x)")
    print(f"  uncheck a class (redraw)          {med['toggle'] * 1000:8.1f} ms   {med['toggle'] / med['one']:.3f}x prediction (goal < 0.1x)")
    print(f"  change opacity (redraw)           {med['opacity'] * 1000:8.1f} ms   {med['opacity'] / med['one']:.3f}x prediction (goal < 0.1x)")

    # ---------------------------------------------------------------- concurrent clients
    from gradio_client import Client, handle_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    inputs = []
    for i in range(args.clients):
        path = work / f"client{i}.png"
        Image.fromarray(smooth_image(args.size, seed=100 + i)).save(path)
        expected = app.predict(app.MODELS, Image.open(path).convert("RGB"), "A").labels("A", SCHEMA_16)
        inputs.append((path, expected))
    clients = [Client(app.demo.local_url, verbose=False) for _ in range(args.clients)]

    def call(i: int) -> tuple[float, bool]:
        path, expected = inputs[i]
        start = time.perf_counter()
        label_file, names = clients[i].predict(handle_file(str(path)), "A", "16", api_name="/parse")
        latency = time.perf_counter() - start
        return latency, names == list(SCHEMA_16.names) and np.array_equal(np.asarray(Image.open(label_file)), expected)

    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(call, range(args.clients)))
    wall = time.perf_counter() - start
    app.demo.close()
    latencies = sorted(r[0] for r in results)
    correct = sum(r[1] for r in results)
    p95 = latencies[min(len(latencies) - 1, int(np.ceil(0.95 * len(latencies))) - 1)]
    print(f"{args.clients} concurrent clients on /parse (one branch): {correct}/{args.clients} correct answers")
    print(f"  latency p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, all {args.clients} done in {wall:.2f} s")
    if correct != args.clients:
        sys.exit("some clients got wrong answers")


if __name__ == "__main__":
    main()
