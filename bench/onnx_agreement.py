"""How faithful the ONNX exports are: PyTorch vs ONNX Runtime fp32 vs the quantized variant.

    python -m animeparse.export models/animeparse-b0/model_a
    python bench/onnx_agreement.py [--model models/animeparse-b0/model_a] [--synthetic 40] [--real DIR]

On synthetic test pictures (``animeparse.synth.scene.render``, exact labels) and on real pictures
(``--real``: a folder, e.g. the Ren'Py sprites), each picture goes through the project's one
label-map rule (:mod:`animeparse.inference`) with each backend. Printed: the largest logit
difference from PyTorch, the share of pixels whose label matches PyTorch's, mean IoU against the
truth on the synthetic pictures, the files' sizes and the forward time of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from animeparse.export import FP32_FILE, ONNX_DIR, QUANTIZED_FILE
from animeparse.images import fit_within, load_rgb
from animeparse.inference import DEFAULT_MODEL_A, branch_logits, model_schema, upsampled_argmax
from animeparse.metrics import confusion_matrix, summarize
from animeparse.model import load_model
from animeparse.onnx_backend import load_onnx_model
from animeparse.predict import collect_inputs
from animeparse.synth.scene import render

SYNTH_SEED = 900_000
"""First seed of the synthetic pictures: far from the seeds training data is rendered from."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_A, help="checkpoint folder with onnx/")
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic pictures")
    parser.add_argument("--size", type=int, default=512, help="side of the synthetic pictures")
    parser.add_argument("--real", type=Path, default=None, help="folder of real pictures (no labels needed)")
    parser.add_argument("--max-side", type=int, default=1024, help="real pictures are downscaled to this longer side")
    args = parser.parse_args()

    branches = {
        "torch": load_model(args.model),
        "onnx fp32": load_onnx_model(args.model, "fp32"),
        "onnx int8": load_onnx_model(args.model, "quantized"),
    }
    schema = model_schema(branches["torch"][0])
    pictures = [("synthetic", render(SYNTH_SEED + i, args.size)) for i in range(args.synthetic)]
    pictures = [(kind, sample.image, np.asarray(sample.label)) for kind, sample in pictures]
    if args.real:
        pictures += [("real", fit_within(load_rgb(p), args.max_side), None) for p in collect_inputs([args.real])]

    stats = {name: {"diff": [], "same": {}, "cm": 0, "ms": []} for name in branches}
    for kind, image, truth in pictures:
        logits, labels = {}, {}
        for name, branch in branches.items():
            t = time.perf_counter()
            logits[name] = branch_logits(branch, image)
            stats[name]["ms"].append((time.perf_counter() - t) * 1000)
            labels[name] = torch.from_numpy(upsampled_argmax(logits[name], (image.height, image.width)))
        for name in branches:
            s = stats[name]
            s["diff"].append(float((logits[name] - logits["torch"]).abs().max()))
            same = s["same"].setdefault(kind, [0, 0])
            same[0] += int((labels[name] == labels["torch"]).sum())
            same[1] += labels[name].numel()
            if truth is not None:
                s["cm"] = s["cm"] + confusion_matrix(labels[name], torch.from_numpy(truth.astype(np.int64)), schema.num_classes)

    kinds = sorted({kind for kind, _, _ in pictures})
    counts = {k: sum(kind == k for kind, _, _ in pictures) for k in kinds}
    print(f"model {args.model}; pictures: " + ", ".join(f"{counts[k]} {k}" for k in kinds))
    sizes = {"torch": Path(args.model) / "model.safetensors", "onnx fp32": Path(args.model) / ONNX_DIR / FP32_FILE,
             "onnx int8": Path(args.model) / ONNX_DIR / QUANTIZED_FILE}  # fmt: skip
    header = f"{'':10s} {'MiB':>6s} {'ms/forward':>10s} {'max|dlogit|':>11s} " + " ".join(f"{'same ' + k:>16s}" for k in kinds)
    print(header + f" {'synthetic mIoU':>15s}")
    for name, s in stats.items():
        same = " ".join(f"{100 * s['same'][k][0] / s['same'][k][1]:15.3f}%" for k in kinds)
        miou = summarize(s["cm"], schema.names)["mean_iou"] if args.synthetic else float("nan")
        print(f"{name:10s} {sizes[name].stat().st_size / 2**20:6.1f} {statistics.median(s['ms']):10.0f} "
              f"{max(s['diff']):11.2e} {same} {100 * miou:15.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
