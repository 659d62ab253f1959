"""Print the README's results table: mean IoU of training runs side by side, from their metrics.json.

    python -m model_card.results_table outputs/b0-256-sup outputs/b0-256-cps [--split test] [--variant A+B]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from animeparse.branches import ENSEMBLE, USES
from model_card.render import comparison_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="--output-dir folders of train/cotrain.py runs")
    p.add_argument("--split", default="test", help="evaluated split to report (default test)")
    p.add_argument("--variant", default=ENSEMBLE, choices=USES, help=f"branch or ensemble to report (default {ENSEMBLE})")
    args = p.parse_args()
    runs = {}
    for run in args.runs:
        path = run / "metrics.json"
        if not path.is_file():
            p.error(f"{run}: no metrics.json; is this a finished train/cotrain.py --output-dir?")
        runs[run.name] = json.loads(path.read_text())
    print(comparison_table(runs, args.split, args.variant))


if __name__ == "__main__":
    main()
