"""Cost of one CPS training step against one supervised single-branch step, measured side by side.

The method needs about 4.7x: two branches, each with one forward+backward over [x, u_mix] (twice
the labeled batch) and one forward without gradients over u, against one forward+backward over
x (counting a backward as two forwards: 2 x (3 x 2 + 1) / 3 = 4.67). The CPS step is
``animeparse.cps.train_step``, the step train/cotrain.py runs. Each round runs every kind of step once, in an order
that reverses from round to round, and a ratio is taken within the round, so the load of a
shared machine weighs on both sides of it alike; the medians of those ratios are printed, for
wall-clock time and for this process's CPU time (which other programs on a busy machine disturb
less: it does not count the time the process waits for a core).

    python bench/bench_cps_step.py                      # SegFormer-B0, 256 px, 8 + 8 images, fp32 and bf16
    python bench/bench_cps_step.py --steps 3 --precision fp32
    python bench/bench_cps_step.py --threads 1 --system-malloc   # glibc's default allocator
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from animeparse.allocator import keep_freed_memory
from animeparse.cps import CPSConfig, segmentation_ce, train_step
from animeparse.labels import SCHEMA_16
from animeparse.model import SCRATCH_SIZES, build_model

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="b0", choices=sorted(SCRATCH_SIZES), help="SegFormer size (scratch weights)")
    p.add_argument("--crop-size", type=int, default=256, help="crop side in pixels")
    p.add_argument("--batch-size", type=int, default=8, help="labeled images per step (the unlabeled batch is the same)")
    p.add_argument("--steps", type=int, default=5, help="measured steps of each kind")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured steps of each kind first")
    p.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"], help="precisions to measure")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    p.add_argument("--system-malloc", action="store_true",
                   help="leave glibc's allocator as it is (training raises its mmap threshold on the CPU)")
    args = p.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch_size < 2 or args.crop_size % 32 or args.threads < 1:
        p.error("need --steps >= 1, --warmup >= 0, --batch-size >= 2, --threads >= 1 and --crop-size a multiple of 32")
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    kept = False if args.system_malloc else keep_freed_memory()
    method = CPSConfig()  # training's defaults
    step_after_warmup = method.warmup_steps + 1  # CPS at its full weight
    torch.manual_seed(0)
    model_a = build_model("scratch", SCHEMA_16, args.size).train()
    model_b = build_model("scratch", SCHEMA_16, args.size).train()
    opt_a, opt_b = (torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (model_a, model_b))
    n, s = args.batch_size, args.crop_size
    x, u = torch.randn(n, 3, s, s), torch.randn(n, 3, s, s)
    y = torch.randint(0, SCHEMA_16.num_classes, (n, s, s))

    def supervised_one_branch() -> None:
        segmentation_ce(model_a(pixel_values=x).logits, y).backward()
        opt_a.step()
        opt_a.zero_grad(set_to_none=True)

    def step(unlabeled) -> None:
        train_step(model_a, model_b, x, y, unlabeled, method, step_after_warmup)
        for opt in (opt_a, opt_b):
            opt.step()
            opt.zero_grad(set_to_none=True)

    kinds = {"supervised, 1 branch": supervised_one_branch, "supervised, 2 branches": lambda: step(None), "CPS": lambda: step(u)}
    print(f"SegFormer-{args.size}, {s} px, {n} labeled + {n} unlabeled images, {torch.get_num_threads()} threads, "
          f"{args.warmup} warmup + {args.steps} measured steps of each kind, interleaved; "
          f"freed memory {'kept (as training does)' if kept else 'returned to the system'}")
    for precision in args.precision:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        times = {(clock, kind): [] for clock in CLOCKS for kind in kinds}
        for i in range(args.warmup + args.steps):
            order = list(kinds) if i % 2 == 0 else list(reversed(kinds))
            for kind in order:
                start = {clock: read() for clock, read in CLOCKS.items()}
                with autocast:
                    kinds[kind]()
                if i >= args.warmup:
                    for clock, read in CLOCKS.items():
                        times[clock, kind].append(read() - start[clock])
        print(f"\n{precision}: median seconds a step, and median ratio to the 1-branch step of the same round")
        print(f"  {'':24s} {'wall s':>8s} {'ratio':>7s} {'CPU s':>8s} {'ratio':>7s}")
        for kind in kinds:
            cells = []
            for clock in CLOCKS:
                values, base = times[clock, kind], times[clock, "supervised, 1 branch"]
                ratio = statistics.median(t / b for t, b in zip(values, base))
                cells.append(f"{statistics.median(values):8.3f} {ratio:6.2f}x")
            print(f"  {kind:24s} {' '.join(cells)}")


if __name__ == "__main__":
    main()
