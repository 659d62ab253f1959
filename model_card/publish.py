"""Copy a finished run's two models into a folder of their own, with model cards naming that folder.

    python -m model_card.publish outputs/b0-256-cps models/animeparse-b0

Writes DEST/model_a and DEST/model_b (weights, config, image processor, model card) and
DEST/metrics.json. This is how the default models in ``models/`` are made from a training run; the
cards are rendered again so that their usage examples and sibling links point at DEST.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from animeparse.labels import Schema
from model_card.render import render_model_card

BRANCH_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")


def publish(run: Path, dest: Path) -> None:
    """Copy ``run``'s models to ``dest``, replacing what is there only once everything is written."""
    metrics = json.loads((run / "metrics.json").read_text())
    config = metrics["config"]
    folders = {b: dest / f"model_{b.lower()}" for b in "AB"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        staged = Path(tmp) / dest.name
        for branch, folder in folders.items():
            (staged / folder.name).mkdir(parents=True)
            for name in BRANCH_FILES:
                shutil.copy2(run / folder.name / name, staged / folder.name / name)
            id2label = json.loads((run / folder.name / "config.json").read_text())["id2label"]
            card = render_model_card(
                branch=branch, repo_id=str(folder), sibling_id=str(folders["B" if branch == "A" else "A"]), metrics=metrics,
                config=config, dataset_id=config["dataset_id"] or config["dataset"],
                class_names=list(Schema.from_id2label(id2label).names),
            )
            (staged / folder.name / "README.md").write_text(card, encoding="utf-8")
        (staged / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)


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
