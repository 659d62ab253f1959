"""Benchmark the dataset builder against the floor of reading and PNG-encoding the same images.

    python bench/bench_build.py                   # the issue's figures: 1,000 images; RSS 1,000 vs 4,000
    python bench/bench_build.py --num 200 --rss-num 250   # a quick run

Prints (1) build time / (read + PNG-encode time) for the same N 512x512 image+mask pairs, measured
side by side in one process, and (2) peak RSS of a build of M images vs 4*M images, each in its own
process. Plain RGB PNGs are stored as they are; `--rgba` gives every image an alpha channel, which
the builder must flatten and re-encode (its slowest path). Inputs are generated first in a temporary
folder: flat-colored shapes with gradients and grain (like cel-shaded art) and their color-coded
masks; the 4*M set links each file four times.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from animeparse.labels import SCHEMA_16

ROOT = Path(__file__).resolve().parents[1]


def make_pair(rng: np.random.Generator, size: int) -> tuple[Image.Image, Image.Image]:
    """An illustration-like image and its color mask: ellipses and polygons of random classes."""
    ids = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(ids)
    for _ in range(int(rng.integers(8, 16))):
        class_id = int(rng.integers(1, SCHEMA_16.num_classes))
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(size // 16, size // 3, 2)
        if rng.random() < 0.5:
            draw.ellipse((x - w, y - h, x + w, y + h), fill=class_id)
        else:
            draw.polygon([tuple(p) for p in rng.integers(0, size, (int(rng.integers(3, 7)), 2))], fill=class_id)
    label = np.asarray(ids)
    fill = rng.integers(0, 256, (256, 3)).astype(np.float32)
    shade = np.linspace(0.75, 1.0, size, dtype=np.float32)[:, None, None]  # a vertical light gradient
    grain = rng.normal(0, 2.0, (size, size, 1)).astype(np.float32)
    image = np.clip(fill[label] * shade + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(image), Image.fromarray(SCHEMA_16.colorize(label))


def make_inputs(folder: Path, num: int, size: int, rgba: bool = False, seed: int = 0) -> Path:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(num):
        image, mask = make_pair(rng, size)
        if rgba:  # an alpha channel forces the builder to flatten and re-encode: its slowest path
            image.putalpha(255)
        image.save(folder / "images" / f"{i:05d}.png")
        mask.save(folder / "masks" / f"{i:05d}.png")
    return folder


def link_inputs(source: Path, folder: Path, num: int, times: int = 1) -> Path:
    """Hard links to the first ``num`` pairs of ``source``, ``times`` under new names each: a
    bigger input set without generating it."""
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for path in sorted((source / sub).iterdir())[:num]:
            for k in range(times):
                (folder / sub / f"{k}_{path.name}").hardlink_to(path)
    return folder


def read_and_encode(images: Path) -> float:
    """The floor: decode each image and encode it as PNG, as any dataset writer must at least do."""
    start = time.perf_counter()
    for path in sorted(images.iterdir()):
        buf = io.BytesIO()
        Image.open(path).convert("RGB").save(buf, format="PNG")
    return time.perf_counter() - start


def build_args(inputs: Path, out: Path) -> list[str]:
    return ["color", "--images", str(inputs / "images"), "--masks", str(inputs / "masks"), "--out", str(out), "--overwrite"]


def time_build(inputs: Path, out: Path) -> float:
    from hf_dataset.build import main

    start = time.perf_counter()
    if main(build_args(inputs, out)) != 0:
        raise SystemExit("build failed")
    return time.perf_counter() - start


CHILD = """
import resource, sys
from hf_dataset.build import main
code = main(sys.argv[1:])
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def peak_rss_mb(inputs: Path, out: Path) -> tuple[float, float]:
    """Peak RSS (MB) and wall time of a build in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *build_args(inputs, out)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"build failed:\n{done.stderr}")
    peak_kb = int(done.stdout.split("PEAK_KB")[-1])
    return peak_kb / 1024, time.perf_counter() - start


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=1000, help="image+mask pairs for the time ratio (default 1000)")
    parser.add_argument("--rss-num", type=int, default=1000, help="pairs in the smaller memory run; the larger has 4x (default 1000)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--rgba", action="store_true", help="save inputs with alpha, so every image is re-encoded (worst case)")
    parser.add_argument("--skip-rss", action="store_true", help="only measure the time ratio")
    args = parser.parse_args()
    if args.num < 1 or args.rss_num < 1 or args.size < 16:
        parser.error("--num and --rss-num must be at least 1, --size at least 16")
    return args


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_build_") as tmp:
        tmp = Path(tmp)
        n = max(args.num, args.rss_num)
        start = time.perf_counter()
        inputs = make_inputs(tmp / "inputs", n, args.size, args.rgba)
        print(f"generated {n} {args.size}x{args.size} image+mask pairs in {time.perf_counter() - start:.1f} s")

        timed = inputs if args.num == n else link_inputs(inputs, tmp / "timed", args.num)
        # Alternate the two measurements so drift on a shared machine hits both alike.
        floors, builds = [], []
        for _ in range(2):
            floors.append(read_and_encode(timed / "images"))
            builds.append(time_build(timed, tmp / "repo"))
        floor, build = min(floors), min(builds)
        print(f"\n(1) {args.num} images: read+PNG-encode {floor:.2f} s, build {build:.2f} s "
              f"-> build / encode = {build / floor:.2f}x (target <= 2x)")

        if not args.skip_rss:
            small = inputs if args.rss_num == n else link_inputs(inputs, tmp / "small", args.rss_num)
            large = link_inputs(inputs, tmp / "large", args.rss_num, times=4)
            rss_small, t_small = peak_rss_mb(small, tmp / "repo_small")
            rss_large, t_large = peak_rss_mb(large, tmp / "repo_large")
            print(f"(2) peak RSS: {args.rss_num} images {rss_small:.0f} MB ({t_small:.0f} s), "
                  f"{4 * args.rss_num} images {rss_large:.0f} MB ({t_large:.0f} s) "
                  f"-> ratio {rss_large / rss_small:.2f}x (target < 1.5x)")


if __name__ == "__main__":
    main()
