"""What the default parse costs: the app's prediction with the models' own input size and the flip
(each model averaged over the picture and its mirror image) against the plain 512 x 512
prediction the project started from, as ratios measured side by side in one run.

    python bench/bench_flip_cost.py [--rounds 7] [--size 384] [--image 1024] [--wide 1820]

Four apps, each with two randomly initialised B0 models (weights do not change the timing):
``--size`` px with and without the flip, and 512 px with and without it. Each round runs an
upload through ``parse_upload`` + ``show`` (read, forward passes, label map, overlay PNG) in every
app, one after another on the same ``--image``-px picture, for branch A and for the A+B ensemble
(the app's default). The goal: the default (``--size``, flip, A+B) within 1.3x of 512 px plain A+B.
With ``--wide W``, the default app also parses a W x ``--image`` picture in every round: a wide
picture is framed as it is (up to 2:1), so the model sees more pixels; printed as its ratio to
the square picture.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_app, beside this file

from bench_app import import_app, random_pair, smooth_image, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds; medians are reported")
    parser.add_argument("--size", type=int, default=384, help="the default models' input size in px")
    parser.add_argument("--image", type=int, default=1024, help="side of the square test picture in px")
    parser.add_argument("--wide", type=int, default=0, help="also a picture this wide and --image high (0: none)")
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    work = Path(tempfile.mkdtemp(prefix="bench_flip_"))
    upload = work / "picture.png"
    Image.fromarray(smooth_image(args.image, seed=0)).save(upload)
    wide = work / "wide.png"
    if args.wide:
        Image.fromarray(smooth_image(args.wide, seed=0)).resize((args.wide, args.image)).save(wide)

    apps = {}
    for size in (args.size, 512):
        pair = random_pair(work / str(size), size)
        for flip in (False, True):
            apps[size, flip] = import_app(pair, FLIP=str(int(flip)))
    classes = list(apps[512, False].SCHEMA.names[1:])

    def parse(app, use: str, picture: Path = upload) -> None:
        prediction = app.parse_upload(str(picture), use, "overlay")[0]
        app.show(prediction, use, "16", classes, 0.6, "overlay")

    uses = ("A", apps[512, False].ENSEMBLE)
    for app in apps.values():  # warm-up: first calls allocate and pick kernels
        for use in uses:
            parse(app, use)
    times = {(key, use): [] for key in apps for use in uses}
    default_app = apps[args.size, True]
    if args.wide:
        parse(default_app, uses[1], wide)
        times["wide"] = []
    for _ in range(args.rounds):
        for key, app in apps.items():
            for use in uses:
                times[key, use].append(timed(lambda: parse(app, use)))
        if args.wide:
            times["wide"].append(timed(lambda: parse(default_app, uses[1], wide)))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}

    print(f"app prediction of a {args.image}x{args.image} picture, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} rounds; ratio to 512 px plain, same model choice")
    print(f"  {'input':>6} {'flip':>5} {'model':>6} {'ms':>8} {'ratio':>6}")
    for size, flip in apps:
        for use in uses:
            ms = med[(size, flip), use]
            print(f"  {size:>6} {'yes' if flip else 'no':>5} {use:>6} {ms:8.1f} {ms / med[(512, False), use]:6.2f}")
    default = med[(args.size, True), uses[1]] / med[(512, False), uses[1]]
    print(f"default ({args.size} px, flip, A+B) vs 512 px plain A+B: {default:.2f}x (goal <= 1.3x)")
    if args.wide:
        ratio = med["wide"] / med[(args.size, True), uses[1]]
        print(f"default on the {args.wide}x{args.image} picture: {med['wide']:.1f} ms, {ratio:.2f}x the square one; "
              f"{ratio * default:.2f}x 512 px plain A+B on the square")


if __name__ == "__main__":
    main()
