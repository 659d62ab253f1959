"""How fast a picture source makes labeled pictures, against plain PNG encoding of the same pictures.

    python bench/bench_synth.py [--num 96] [--size 512] [--workers 2] [--rounds 3]
    python bench/bench_synth.py --source live2d   # Live2D characters (npm packages installed first)

Each round, one after another so that machine noise hits all alike:

- render ``--num`` pictures with ``--workers`` processes (animeparse.synth.batch.RenderPool), and
  with one process;
- PNG-encode the same pictures (image at zlib level 6, label at level 1, as the dataset builder
  stores them) with ``--workers`` processes, and with one.

Printed: pictures per second for each, and the ratio render / PNG (how many times slower making a
labeled picture is than merely saving one), plus the speed-up from the extra workers. On a shared
machine other processes take cores from the wall-clock figures, so the CPU time of the one-process
render is printed too, with the rate it implies for idle cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from PIL import Image

from animeparse.files import png_bytes
from animeparse.live2d import scene as live2d_scene
from animeparse.live2d.characters import available_models, install
from animeparse.synth.batch import RenderPool
from animeparse.synth.scene import MAX_SIZE, MIN_SIZE, render
from hf_dataset.records import LABEL_PNG_LEVEL


def encoded_size(pair: tuple[Image.Image, Image.Image]) -> int:
    """Bytes of a picture and its label as a dataset row stores them (PNG; labels at their level)."""
    image, label = pair
    return len(png_bytes(image)) + len(png_bytes(label, LABEL_PNG_LEVEL))


def rate(fn, count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=96, help="pictures per measurement (default 96)")
    p.add_argument("--size", type=int, default=512, help=f"picture side, {MIN_SIZE} to {MAX_SIZE} (default 512)")
    p.add_argument("--workers", type=int, default=2, help="processes for the parallel runs (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="measurement rounds; the median is reported (default 3)")
    p.add_argument("--source", default="synth", choices=["synth", "live2d"], help="procedural renderer or Live2D characters")
    p.add_argument("--models", nargs="+", default=available_models(), choices=available_models(), metavar="MODEL",
                   help="live2d: the models to draw (default: all)")
    args = p.parse_args()
    if args.num < 1 or args.rounds < 1 or args.workers < 1:
        p.error("--num, --rounds and --workers must be at least 1")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        p.error(f"--size {args.size}: must be from {MIN_SIZE} to {MAX_SIZE}")

    source, controls = render, {}
    if args.source == "live2d":
        source, controls = live2d_scene.render, {"models": tuple(args.models), "cache": str(install(args.models))}
    results: dict[str, list[float]] = {k: [] for k in ("render_par", "render_one", "png_par", "png_one")}
    cpu: list[float] = []
    with RenderPool(args.workers, render=source) as pool, RenderPool(1, render=source) as single, \
            multiprocessing.get_context("spawn").Pool(args.workers) as png_pool:
        list(pool.samples(range(args.workers * 4), args.size, **controls))  # start the workers before timing
        list(single.samples(range(1), args.size, **controls))
        png_pool.map(encoded_size, [(Image.new("RGB", (8, 8)), Image.new("L", (8, 8)))] * args.workers)
        for r in range(args.rounds):
            seeds = range(r * args.num, (r + 1) * args.num)
            pictures: list = []
            results["render_par"].append(rate(lambda: pictures.extend(pool.samples(seeds, args.size, **controls)), args.num))
            start_cpu = time.process_time()
            results["render_one"].append(rate(lambda: list(single.samples(seeds, args.size, **controls)), args.num))
            cpu.append((time.process_time() - start_cpu) / args.num)
            pairs = [(s.image, s.label) for s in pictures]
            results["png_par"].append(rate(lambda: png_pool.map(encoded_size, pairs, chunksize=4), args.num))
            results["png_one"].append(rate(lambda: [encoded_size(x) for x in pairs], args.num))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}/s" for k, v in results.items()))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{args.source}: {args.size}x{args.size}, {args.num} pictures per run, median of {args.rounds} rounds")
    print(f"render, {args.workers} workers: {med['render_par']:7.1f} labeled pictures/s")
    print(f"render, 1 process:  {med['render_one']:7.1f} labeled pictures/s")
    print(f"PNG encode (image + label), {args.workers} workers: {med['png_par']:7.1f} pictures/s")
    print(f"PNG encode (image + label), 1 process:  {med['png_one']:7.1f} pictures/s")
    print(f"ratio render / PNG encode ({args.workers} workers): {med['render_par'] / med['png_par']:.2f} "
          f"(1 process: {med['render_one'] / med['png_one']:.2f})")
    print(f"speed-up of {args.workers} workers over 1: render {med['render_par'] / med['render_one']:.2f}x, "
          f"PNG {med['png_par'] / med['png_one']:.2f}x")
    cpu_per = statistics.median(cpu)
    print(f"CPU time per labeled picture (1 process): {cpu_per * 1000:.1f} ms, "
          f"i.e. {args.workers / cpu_per:.1f} pictures/s on {args.workers} idle cores")


if __name__ == "__main__":
    main()
