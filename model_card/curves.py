"""Validation curves of training runs over steps and over training hours, from their TensorBoard logs.

    python -m model_card.curves runs/cps-mix runs/sup-mix --out docs/results/curves.png
    python -m model_card.curves runs/sup-mix@2000 runs/sup-hr --chain --out docs/results/lineage.png
    python -m model_card.curves runs/sup,runs/sup2 runs/cps,runs/cps2 --hardware GPU --out docs/results/twins.png
    python -m model_card.curves "crop 256=runs/a" "crop 384=runs/b,runs/c" --out docs/results/crops.png

A run stopped and resumed (``--resume``) writes one event file per session; the hours count the
time inside each session only, so a night between two sessions does not show as training time.
A resumed session repeats the steps after its checkpoint: the later session's values win.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from animeparse.branches import ENSEMBLE

METRIC = f"eval/mean_iou_{ENSEMBLE}"
"""The validation score train/cotrain.py logs at each evaluation (16-class mean IoU, A+B)."""


@dataclass
class Curve:
    """One run's validation score by step, and the training hours spent to reach each step."""

    name: str
    points: list[tuple[int, float, float]] = field(default_factory=list)
    """(step, training hours, score), by step."""


def event_files(run: Path) -> list[Path]:
    """A run's TensorBoard event files, oldest session first."""
    files = sorted((run / "logs").rglob("events.out.tfevents.*"), key=lambda p: p.name.split(".")[3])
    if not files:
        raise SystemExit(f"error: {run}: no TensorBoard logs under {run / 'logs'}; was it trained with --report-to none?")
    return files


def read_curve(run: Path, metric: str = METRIC) -> Curve:
    """The run's ``metric`` by step with the hours of training before it (gaps between sessions removed)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    hours: dict[int, float] = {}  # step -> training hours, over every logged scalar
    scores: dict[int, float] = {}
    for path in event_files(run):
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        logged = sorted({(e.step, e.wall_time) for tag in events.Tags()["scalars"] for e in events.Scalars(tag)})
        if not logged:
            continue
        first_step, start = logged[0][0], min(events.FirstEventTimestamp(), logged[0][1])
        for step in [s for s in hours if s >= first_step]:  # this session redid these steps
            hours.pop(step)
            scores.pop(step, None)
        base = max((h for s, h in hours.items() if s < first_step), default=0.0)
        for step, wall in logged:
            hours[step] = max(hours.get(step, 0.0), base + (wall - start) / 3600)
        if metric in events.Tags()["scalars"]:
            scores.update({e.step: e.value for e in events.Scalars(metric)})
    return Curve(run.name, [(step, hours[step], scores[step]) for step in sorted(scores)])


def run_argument(text: str) -> tuple[Path, int | None]:
    """``RUN`` or ``RUN@STEP``: a run folder and the last step to draw (None: all)."""
    path, at, step = text.rpartition("@")
    if not at:
        return Path(text), None
    if not step.isdigit():
        raise ValueError(f"{text}: the part after @ must be a step number, got {step!r}")
    return Path(path), int(step)


def cut(curve: Curve, last_step: int | None) -> Curve:
    """``curve`` up to ``last_step``, which must be one of its evaluated steps."""
    if last_step is None:
        return curve
    if last_step not in [s for s, _, _ in curve.points]:
        evaluated = ", ".join(str(s) for s, _, _ in curve.points) or "none"
        raise ValueError(f"{curve.name}@{last_step}: step {last_step} was not evaluated (evaluated steps: {evaluated})")
    return Curve(f"{curve.name} (to {last_step})", [p for p in curve.points if p[0] <= last_step])


def chain(curves: list[Curve]) -> list[Curve]:
    """The stages of one lineage on common axes: each curve's steps and hours shifted to start
    where the previous stage's last point (the export it was initialised from) ends."""
    chained, step0, hours0 = [], 0, 0.0
    for curve in curves:
        points = [(step0 + s, hours0 + h, v) for s, h, v in curve.points]
        chained.append(Curve(curve.name, points))
        if points:
            step0, hours0 = points[-1][0], points[-1][1]
    return chained


def lineage(text: str, metric: str = METRIC) -> Curve:
    """``RUN[@STEP]``, or consecutive stages ``RUN[@STEP],RUN[@STEP],...`` drawn as one line;
    ``LABEL=`` before either names the line (else the run folders' names, joined by " + ")."""
    label, _, text = text.rpartition("=")
    stages = chain([cut(read_curve(path, metric), step) for path, step in map(run_argument, text.split(","))])
    return Curve(label or " + ".join(c.name for c in stages), [point for c in stages for point in c.points])


def plot(curves: list[Curve], out: Path, metric: str = METRIC, hardware: str = "2-core CPU") -> None:
    """Two panels, score by step and by training hours; one line per run."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, (by_step, by_hour) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for curve in curves:
        steps, hours, values = zip(*curve.points) if curve.points else ((), (), ())
        by_step.plot(steps, values, marker="o", label=curve.name)
        by_hour.plot(hours, values, marker="o", label=curve.name)
    by_step.set(xlabel="step", ylabel=metric.removeprefix("eval/"), title="validation by step")
    by_hour.set(xlabel=f"training hours ({hardware})", title="validation by training time")
    for ax in (by_step, by_hour):
        ax.grid(alpha=0.3)
    by_hour.legend(loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="--output-dir folders of train/cotrain.py runs; RUN@STEP: up to STEP only; "
                   "RUN,RUN,...: consecutive stages drawn as one line; LABEL=...: the line's name in the legend")
    p.add_argument("--chain", action="store_true",
                   help="the runs are consecutive stages (each initialised from the previous one's last drawn step)")
    p.add_argument("--metric", default=METRIC, help=f"logged scalar to draw (default {METRIC})")
    p.add_argument("--hardware", default="2-core CPU", help="what the runs trained on, for the hours axis")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    args = p.parse_args()
    if args.out.suffix.lower() != ".png":
        p.error(f"--out must be a .png file, got {args.out}")
    try:
        curves = [lineage(text, args.metric) for text in args.runs]
    except ValueError as e:
        p.error(str(e))
    if args.chain:
        curves = chain(curves)
    for curve in curves:
        print(f"{curve.name}: " + ", ".join(f"step {s} ({h:.2f} h) {v:.4f}" for s, h, v in curve.points))
    plot(curves, args.out, args.metric, args.hardware)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
