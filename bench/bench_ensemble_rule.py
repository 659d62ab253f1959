"""The A+B label map: the dense rule vs its shortcut (``animeparse.inference.ensemble_argmax``).

    python bench/bench_ensemble_rule.py --pictures DIR [--count 20] [--rounds 3]

With the default pair (or ``--model-a/--model-b``), each picture's logits are computed once; then
the label map of A+B in the models' classes is made both ways, in turns: the dense rule (both
branches' logits upsampled to the whole picture, softmax, mean, argmax) and the shortcut (blocks
where both branches lead with the same class painted, the rest computed pixel by pixel). Printed
per picture: size, the share of pixels the shortcut computes, both times (medians) and whether
the maps are the same; then the total time of each over all pictures.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from animeparse.images import fit_within, load_rgb
from animeparse.inference import (
    DEFAULT_MODEL_A, DEFAULT_MODEL_B, MAX_SIDE, class_scores, ensemble_argmax, label_map, load_branches, predict,
)
from animeparse.predict import collect_inputs


def median_ms(fn, rounds: int) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=Path, required=True, help="folder of pictures (real art)")
    parser.add_argument("--count", type=int, default=20, help="pictures to use (the largest first)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per picture and rule; medians")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A)
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B)
    args = parser.parse_args()
    branches = load_branches({"A": args.model_a, "B": args.model_b})
    images = [fit_within(load_rgb(p), MAX_SIDE) for p in collect_inputs([args.pictures])]
    images = sorted(images, key=lambda im: -im.width * im.height)[: args.count]
    if not images:
        raise SystemExit(f"no pictures in {args.pictures}")

    totals = {"dense": 0.0, "shortcut": 0.0}
    print(f"{'size':>10} {'computed':>9} {'dense ms':>9} {'shortcut ms':>12} same")
    for image in images:
        prediction = predict(branches, image, "A+B")
        logits, size = [prediction.logits["A"], prediction.logits["B"]], prediction.size
        schema = prediction.schema
        dense_ms, dense = median_ms(lambda: label_map(class_scores(logits, size, schema, schema)).numpy(), args.rounds)
        fast_ms, fast = median_ms(lambda: ensemble_argmax(logits, size), args.rounds)
        computed = computed_share(logits, size)
        totals["dense"] += dense_ms
        totals["shortcut"] += fast_ms
        print(f"{size[1]:>4}x{size[0]:<5} {100 * computed:8.1f}% {dense_ms:9.1f} {fast_ms:12.1f} {np.array_equal(dense, fast)}")
    print(f"\n{len(images)} pictures: dense {totals['dense']:.0f} ms, shortcut {totals['shortcut']:.0f} ms, "
          f"ratio {totals['shortcut'] / totals['dense']:.2f}")


def computed_share(logits, size: tuple[int, int]) -> float:
    """Share of the picture's pixels that the shortcut computes one by one (1.0 where it hands
    the picture to the dense rule)."""
    import animeparse.inference as inference

    seen = []
    original = inference._mean_probabilities

    def counting(upsampled):
        seen.append(upsampled[0].shape[1:].numel())
        return original(upsampled)

    inference._mean_probabilities = counting
    try:
        inference.ensemble_argmax(logits, size)
    finally:
        inference._mean_probabilities = original
    return sum(seen) / (size[0] * size[1])


if __name__ == "__main__":
    main()
