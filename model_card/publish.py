"""Copy a finished run's two models into a folder of their own, with model cards naming that folder.

    python -m model_card.publish outputs/b0-256-cps models/animeparse-b0

Writes DEST/model_a and DEST/model_b (weights, config, image processor, ONNX export, model card) and
DEST/metrics.json. This is how the default models in ``models/`` are made from a training run; the
cards are rendered again so that their usage examples and sibling links point at DEST.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from animeparse.branches import BRANCHES
from animeparse.export import carry_onnx
from animeparse.files import atomic_dir
from animeparse.labels import Schema
from model_card.render import branch_cards

BRANCH_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
FOLDERS = {branch: f"model_{branch.lower()}" for branch in BRANCHES}


def pair_cards(dest: Path, metrics: dict, class_names: list[str]) -> dict[str, str]:
    """The model cards of a pair published in ``dest``, rendered from its ``metrics``."""
    config = metrics["config"]
    return branch_cards(metrics=metrics, config=config, dataset_id=config["dataset_id"] or config["dataset"],
                        class_names=class_names, repo_ids={b: str(dest / folder) for b, folder in FOLDERS.items()})


def publish(run: Path, dest: Path) -> None:
    """Copy ``run``'s models to ``dest``, replacing what is there only once everything is written."""
    metrics = json.loads((run / "metrics.json").read_text())
    id2label = json.loads((run / FOLDERS["A"] / "config.json").read_text())["id2label"]
    cards = pair_cards(dest, metrics, list(Schema.from_id2label(id2label).names))
    with atomic_dir(dest, overwrite=True) as staged:
        for branch, folder in FOLDERS.items():
            (staged / folder).mkdir()
            for name in BRANCH_FILES:
                shutil.copy2(run / folder / name, staged / folder / name)
            carry_onnx(run / folder, staged / folder)  # the run's onnx/ export, or a fresh one
            (staged / folder / "README.md").write_text(cards[branch], encoding="utf-8")
        (staged / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="--output-dir of a finished train/cotrain.py run")
    p.add_argument("dest", type=Path, help="folder to write model_a/, model_b/ and metrics.json into (replaced)")
    args = p.parse_args()
    missing = [str(args.run / f) for f in ("metrics.json", *(f"model_{b}/{n}" for b in "ab" for n in BRANCH_FILES))
               if not (args.run / f).is_file()]
    if missing:
        p.error(f"{args.run} is not a finished training run: missing {', '.join(missing)}")
    publish(args.run, args.dest)
    print(f"wrote {args.dest}/model_a, {args.dest}/model_b and {args.dest}/metrics.json")


if __name__ == "__main__":
    main()
