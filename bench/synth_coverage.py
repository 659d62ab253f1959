"""Class and tag histogram of a sample of rendered pictures.

    python bench/synth_coverage.py [--num 1000] [--size 512] [--seed 0] [--workers 2]
    python bench/synth_coverage.py --source live2d   # Live2D characters (npm packages installed first)

Prints, for each of the 16 classes, the share of pictures that contain it and its share of all
pixels; then the counts per style, difficulty, number of characters, framing, shading and
background. Exits with status 1 if a class is in fewer than --min-share of the pictures or a
style or difficulty never occurs.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np

from animeparse.labels import SCHEMA_16
from animeparse.live2d import scene as live2d_scene
from animeparse.live2d.characters import available_models, install
from animeparse.synth.batch import RenderPool
from animeparse.synth.scene import DIFFICULTIES, MAX_SIZE, MIN_SIZE, STYLES, render


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=1000, help="pictures in the sample (default 1000)")
    p.add_argument("--size", type=int, default=512, help=f"picture side, {MIN_SIZE} to {MAX_SIZE} (default 512)")
    p.add_argument("--seed", type=int, default=0, help="first seed; the sample is seeds seed .. seed+num-1 (default 0)")
    p.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    p.add_argument("--min-share", type=float, default=0.05, help="least share of pictures each class must reach (default 0.05)")
    p.add_argument("--source", default="synth", choices=["synth", "live2d"], help="procedural renderer or Live2D characters")
    p.add_argument("--models", nargs="+", default=available_models(), choices=available_models(), metavar="MODEL",
                   help="live2d: the models to draw (default: all)")
    p.add_argument("--photos", help="live2d: folder of background photographs (default: the renderer's backgrounds)")
    args = p.parse_args()
    if args.num < 1 or args.workers < 1 or args.seed < 0:
        p.error("--num and --workers must be at least 1, --seed at least 0")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        p.error(f"--size {args.size}: must be from {MIN_SIZE} to {MAX_SIZE}")

    k = SCHEMA_16.num_classes
    present, pixels = np.zeros(k, np.int64), np.zeros(k, np.int64)
    source, controls, tag_names = render, {}, ("framing", "shading", "background")
    if args.source == "live2d":
        source, tag_names = live2d_scene.render, ("framing", "background", "character")
        controls = {"models": tuple(args.models), "cache": str(install(args.models)), "photos": args.photos}
    tags: dict[str, Counter] = {t: Counter() for t in ("style", "difficulty", "characters", *tag_names)}
    with RenderPool(args.workers, render=source) as pool:
        for s in pool.encoded(range(args.seed, args.seed + args.num), args.size, **controls):
            counts = np.bincount(s.label.ravel(), minlength=k)[:k]
            present += counts > 0
            pixels += counts
            tags["style"][s.style] += 1
            tags["difficulty"][s.difficulty] += 1
            tags["characters"][s.num_characters] += 1
            for t in tag_names:
                for value in s.tags[t].split(","):  # a picture of two characters counts both
                    tags[t][value] += 1

    print(f"{args.source}: {args.num} pictures, {args.size}x{args.size}, seeds {args.seed}..{args.seed + args.num - 1}\n")
    print(f"{'id':>2} {'class':<13} {'pictures':>9} {'pixels':>8}")
    for i, name in enumerate(SCHEMA_16.names):
        flag = "" if present[i] >= args.min_share * args.num else f"   < {args.min_share:.0%}"
        print(f"{i:>2} {name:<13} {present[i] / args.num:>8.1%} {pixels[i] / pixels.sum():>8.2%}{flag}")
    for tag, counter in tags.items():
        print(f"\n{tag}: " + ", ".join(f"{key} {n} ({n / args.num:.0%})" for key, n in sorted(counter.items())))
    missing = [v for v in STYLES if v not in tags["style"]] + [v for v in DIFFICULTIES if v not in tags["difficulty"]]
    rare = [SCHEMA_16.names[i] for i in range(k) if present[i] < args.min_share * args.num]
    if missing or rare:
        print(f"\nFAIL: classes under {args.min_share:.0%}: {rare}; styles or difficulties never drawn: {missing}")
        return 1
    print(f"\nOK: every class in at least {args.min_share:.0%} of the pictures; every style and difficulty drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
