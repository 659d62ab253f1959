"""SegFormer forward at 512x512: ONNX Runtime (fp32, int8) vs PyTorch vs the fp32 matmul limit.

    python bench/bench_onnx.py [--model models/animeparse-b0/model_a] [--size 512] [--repeats 7]

Everything is measured in one process, interleaved round by round, so machine load hits all
contenders alike; the figures to quote are the ratios. The limit is the model's FLOPs (counted
by torch's FlopCounterMode) at the fp32 matrix-multiply rate measured here and now; the export
folds the decode head (animeparse.export._FusedHead), so its own FLOPs and limit are printed too. Then ONNX
Runtime's profiler says where the fp32 graph's time goes, operator type by operator type.
The model folder needs an ``onnx/`` export (``python -m animeparse.export MODEL``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from animeparse.export import FP32_FILE, ONNX_DIR, QUANTIZED_FILE, _FusedHead, session
from animeparse.model import load_model

ROOT = Path(__file__).resolve().parent.parent


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """Best fp32 GFLOP/s of an n x n x n matrix multiply."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def profile(path: Path, feed: dict, runs: int = 3) -> list[tuple[str, float, int]]:
    """(operator type, ms per forward, node count) of an ONNX Runtime session, slowest first."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    s.run(None, feed)
    for _ in range(runs):
        s.run(None, feed)
    events = json.loads(Path(s.end_profiling()).read_text())
    total, nodes = defaultdict(float), defaultdict(set)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"]["op_name"]
            total[op] += e["dur"] / 1000 / (runs + 1)
            nodes[op].add(e["name"])
    return sorted(((op, ms, len(nodes[op])) for op, ms in total.items()), key=lambda r: -r[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "animeparse-b0" / "model_a"), help="checkpoint folder with onnx/")
    parser.add_argument("--size", type=int, default=512, help="input height and width")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (each runs every contender once)")
    args = parser.parse_args()

    model, _ = load_model(args.model)
    x = torch.randn(1, 3, args.size, args.size)
    feed = {"pixel_values": x.numpy()}
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(pixel_values=x)
    gflop = counter.get_total_flops() / 1e9
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        _FusedHead(model).eval()(x)
    graph_gflop = counter.get_total_flops() / 1e9

    onnx_dir = Path(args.model) / ONNX_DIR
    sessions = {"onnx fp32": session(onnx_dir / FP32_FILE), "onnx int8": session(onnx_dir / QUANTIZED_FILE)}
    contenders = {
        "torch": lambda: model(pixel_values=x),
        **{name: (lambda s=s: s.run(None, feed)) for name, s in sessions.items()},
    }
    times = defaultdict(list)
    rates = []
    with torch.inference_mode():
        for fn in contenders.values():
            fn()  # warm up
        for _ in range(args.repeats):
            rates.append(matmul_rate())
            for name, fn in contenders.items():
                times[name].append(_seconds(fn) * 1000)
    rate = statistics.median(rates)
    limit_ms = gflop / rate * 1000

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; torch threads {torch.get_num_threads()}")
    print(f"model: {args.model} at {args.size}x{args.size}: {gflop:.2f} GFLOP (FlopCounterMode)")
    print(f"fp32 matmul: {rate:.1f} GFLOP/s (median of {args.repeats}) -> limit {limit_ms:.0f} ms")
    print(f"the exported graph (decode head folded, same function): {graph_gflop:.2f} GFLOP -> "
          f"its own limit {graph_gflop / rate * 1000:.0f} ms")
    print(f"{'':10s} {'median ms':>10s} {'min ms':>8s} {'x limit':>8s} {'x torch':>8s}")
    torch_ms = statistics.median(times["torch"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:10s} {med:10.0f} {min(ts):8.0f} {med / limit_ms:8.2f} {med / torch_ms:8.2f}")

    print("\nONNX Runtime fp32, time by operator type (profiler, ms per forward):")
    rows = profile(onnx_dir / FP32_FILE, feed)
    total = sum(ms for _, ms, _ in rows)
    for op, ms, n in rows[:12]:
        print(f"  {op:24s} {ms:7.1f} ms  {100 * ms / total:5.1f}%  ({n} nodes)")
    print(f"  {'all operators':24s} {total:7.1f} ms")


if __name__ == "__main__":
    main()
