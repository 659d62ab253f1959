"""Take docs/test_predictions.png: test images, the models' A+B prediction and the ground truth.

    python docs/test_predictions.py --dataset data/animeparse-synth [--model-a DIR --model-b DIR]

Picks test rows of every kind the models meet (easy single characters, busy scenes, crowds,
sketches, manga pages) with a fixed seed, so the figure can be retaken after training.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from animeparse.data import load_parsing_dataset
from animeparse.branches import ENSEMBLE
from animeparse.inference import DEFAULT_MODEL_A, DEFAULT_MODEL_B, load_branches, model_schema, predict
from animeparse.synth.contact_sheet import grid, panel

ROOT = Path(__file__).resolve().parent.parent
KINDS = {  # kind of picture: which test rows qualify
    "easy": lambda r: r["difficulty"] == "easy",
    "medium": lambda r: r["difficulty"] == "medium" and r["style"] == "color",
    "crowd": lambda r: (r["num_characters"] or 0) >= 3 and r["style"] == "color",
    "sketch": lambda r: r["style"] == "lineart",
    "manga": lambda r: r["style"] == "manga",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="animeparse Datasets repo (Hub id or folder) with a test split")
    p.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A (Hub id or folder)")
    p.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B (Hub id or folder)")
    p.add_argument("--per-kind", type=int, default=2, help="images of each kind")
    p.add_argument("--tile", type=int, default=200, help="side of each picture in pixels")
    p.add_argument("--seed", type=int, default=0, help="seed of the choice of rows")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "test_predictions.png", help="PNG to write")
    return p.parse_args()


def pick_rows(test, per_kind: int, seed: int) -> list[int]:
    """Test row indices, ``per_kind`` of each kind, no row twice."""
    meta = test.select_columns(["difficulty", "style", "num_characters"]).to_list()
    rng, taken = random.Random(seed), []
    for fits in KINDS.values():
        candidates = [i for i, r in enumerate(meta) if fits(r) and i not in taken]
        taken += rng.sample(candidates, min(per_kind, len(candidates)))
    return taken


def main() -> None:
    args = parse_args()
    test = load_parsing_dataset(args.dataset)["test"]
    branches = load_branches({"A": args.model_a, "B": args.model_b})
    schema = model_schema(branches["A"][0])
    tiles = []
    for i in pick_rows(test, args.per_kind, args.seed):
        row = test[i]
        labels = predict(branches, row["image"], ENSEMBLE).labels(ENSEMBLE, schema)
        caption = f"{row['difficulty']}, {row['style']}, {row['num_characters']} char.: input | A+B prediction | truth"
        tiles.append(panel(row["image"], [labels, np.asarray(row["label"])], caption, args.tile, schema))
    sheet = grid(tiles, columns=2, schema=schema)
    sheet.save(args.out)
    print(f"wrote {args.out}: {len(tiles)} test images")


if __name__ == "__main__":
    main()
