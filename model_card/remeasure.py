"""Measure a published pair again, with the current evaluation, on the splits its metrics.json
reports, and rewrite its metrics.json and model cards in place (for a change in how metrics are
made); the weights and anything else in the folder stay as they are.

    python -m model_card.remeasure models/animeparse-b0 --dataset data/animeparse-synth

The dataset must hold the same pictures as the one the pair was measured on (``build.py synth``
with the same arguments renders them again; the evaluated splits alone are enough).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accelerate import Accelerator

from animeparse.branches import ENSEMBLE
from animeparse.data import load_dataset_schema, load_parsing_dataset
from animeparse.evaluation import eval_loader, evaluate, summarize_split
from animeparse.files import write_atomic
from animeparse.inference import load_branches, model_schema
from animeparse.labels import remap_table
from model_card.publish import FOLDERS, pair_cards


def remeasure(dest: Path, dataset: str, batch_size: int = 4) -> dict:
    """The metrics.json of ``dest`` with every split measured again on ``dataset``, written with
    the cards rendered from it."""
    metrics = json.loads((dest / "metrics.json").read_text())
    # the plain forward pass: a card reports what training measured and pipeline() gives
    branches = load_branches({b: str(dest / folder) for b, folder in FOLDERS.items()}, flip=False)
    (model_a, processor), (model_b, _) = branches["A"], branches["B"]
    schema = model_schema(model_a)
    ds = load_parsing_dataset(dataset)
    source_schema = load_dataset_schema(dataset)
    table = remap_table(source_schema, schema)
    accelerator = Accelerator(cpu=True)
    for split in metrics["splits"]:
        loader, difficulties = eval_loader(ds[split], processor, table, source_schema.num_classes, batch_size)
        metrics["splits"][split] = summarize_split(evaluate(accelerator, model_a, model_b, loader, schema), difficulties, schema)
    for branch, card in pair_cards(dest, metrics, list(schema.names)).items():
        write_atomic(dest / FOLDERS[branch] / "README.md", card)
    write_atomic(dest / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", type=Path, help="folder written by model_card.publish (model_a/, model_b/, metrics.json)")
    p.add_argument("--dataset", required=True, help="Datasets repo (Hub id or local folder) with the reported splits")
    p.add_argument("--batch-size", type=int, default=4, help="images per evaluation batch")
    args = p.parse_args()
    if not (args.models / "metrics.json").is_file():
        p.error(f"{args.models}: no metrics.json; is this a folder written by model_card.publish?")
    metrics = remeasure(args.models, args.dataset, args.batch_size)
    for split, result in metrics["splits"].items():
        print(split, {name: round(v[ENSEMBLE]["mean_iou"], 4) for name, v in result["schemas"].items()})


if __name__ == "__main__":
    main()
