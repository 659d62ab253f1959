"""model_card.curves: validation curves over steps and training hours from TensorBoard logs."""

import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from model_card.curves import METRIC, read_curve

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0


def session(run: Path, start: float, losses: dict[int, float], scores: dict[int, float], minutes_per_step: float) -> None:
    """One training session's event file, opened at ``start`` (the writer stamps and names its file
    by the clock): a loss every 10 steps, validation scores at some steps."""
    with mock.patch("time.time", return_value=start):
        writer = SummaryWriter(str(run / "logs" / "cotrain"))
    first = min(losses)
    for step, loss in losses.items():
        wall = start + (step - first + 10) * minutes_per_step * 60
        writer.add_scalar("train/loss", loss, step, walltime=wall)
        if step in scores:
            writer.add_scalar(METRIC, scores[step], step, walltime=wall)
    writer.close()


def test_hours_leave_out_the_gap_between_sessions_and_the_later_session_wins(tmp_path):
    run = tmp_path / "cps-run"
    t0 = time.time() - 30 * HOUR
    # session 1: steps 10..40 at 1 min a step, evaluated at 20 and 40; killed after its checkpoint at step 30
    session(run, t0, {s: 2.0 for s in (10, 20, 30, 40)}, {20: 0.10, 40: 0.15}, 1.0)
    # session 2, ten hours later: resumed from step 30, redoes 40 (another score) and goes on to 60
    session(run, t0 + 10 * HOUR, {s: 1.0 for s in (40, 50, 60)}, {40: 0.20, 60: 0.30}, 1.0)

    curve = read_curve(run)
    assert curve.name == "cps-run"
    assert [s for s, _, _ in curve.points] == [20, 40, 60]
    assert [v for _, _, v in curve.points] == pytest.approx([0.10, 0.20, 0.30])
    hours = {s: h for s, h, _ in curve.points}
    assert hours[20] == pytest.approx(20 / 60)
    # step 30 ended at 30 min of training; the resumed session took 10 minutes a 10-step block from there
    assert hours[40] == pytest.approx(40 / 60)
    assert hours[60] == pytest.approx(60 / 60)


def test_command_draws_both_panels_and_names_a_run_without_logs(tmp_path):
    run = tmp_path / "sup-run"
    session(run, time.time() - 5 * HOUR, {10: 2.0, 20: 1.5}, {20: 0.25}, 3.0)
    out = tmp_path / "figure" / "curves.png"
    done = subprocess.run([sys.executable, "-m", "model_card.curves", str(run), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "sup-run: step 20 (1.00 h) 0.2500" in done.stdout
    with Image.open(out) as figure:
        assert figure.width > 2 * figure.height  # two panels side by side

    empty = tmp_path / "no-logs"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "model_card.curves", str(empty), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "no-logs" in done.stderr and "no TensorBoard logs" in done.stderr


def test_chained_stages_go_on_from_the_step_and_hour_each_was_initialised_from(tmp_path):
    t0 = time.time() - 30 * HOUR
    first, second = tmp_path / "stage-1", tmp_path / "stage-2"
    # stage 1: 60 steps at 1 min a step, evaluated at 20, 40 and 60; its step-40 export starts stage 2
    session(first, t0, {s: 2.0 for s in (10, 20, 30, 40, 50, 60)}, {20: 0.10, 40: 0.20, 60: 0.15}, 1.0)
    # stage 2: 20 steps at 3 min a step, evaluated at 10 and 20
    session(second, t0 + 5 * HOUR, {10: 1.0, 20: 0.9}, {10: 0.25, 20: 0.30}, 3.0)
    out = tmp_path / "lineage.png"
    done = subprocess.run([sys.executable, "-m", "model_card.curves", f"{first}@40", str(second), "--chain",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    # stage 1 stops at its step 40 (40 min); stage 2's steps 10 and 20 are steps 50 and 60 of the
    # lineage, 30 and 60 minutes after that
    assert "stage-1 (to 40): step 20 (0.33 h) 0.1000, step 40 (0.67 h) 0.2000\n" in done.stdout
    assert "stage-2: step 50 (1.17 h) 0.2500, step 60 (1.67 h) 0.3000\n" in done.stdout
    assert out.is_file()

    done = subprocess.run([sys.executable, "-m", "model_card.curves", f"{first}@30", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "step 30 was not evaluated (evaluated steps: 20, 40, 60)" in done.stderr


def test_comma_joined_stages_are_one_line_beside_another_lineage(tmp_path):
    t0 = time.time() - 30 * HOUR
    # two lineages of two stages each: the supervised pair and its CPS twin, 30 steps then 20 more
    for name, scores in (("sup", (0.20, 0.30)), ("cps", (0.10, 0.25))):
        session(tmp_path / f"{name}-1", t0, {10: 2.0, 20: 1.9, 30: 1.8}, {30: scores[0]}, 1.0)
        session(tmp_path / f"{name}-2", t0 + 2 * HOUR, {10: 1.5, 20: 1.4}, {20: scores[1]}, 2.0)
    out = tmp_path / "twins.png"
    done = subprocess.run([sys.executable, "-m", "model_card.curves", f"{tmp_path}/sup-1,{tmp_path}/sup-2",
                           f"{tmp_path}/cps-1,{tmp_path}/cps-2", "--hardware", "GPU", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    # stage 2's step 20 is step 50 of the lineage: 30 min of stage 1, then 40 min of stage 2
    assert "sup-1 + sup-2: step 30 (0.50 h) 0.2000, step 50 (1.17 h) 0.3000\n" in done.stdout
    assert "cps-1 + cps-2: step 30 (0.50 h) 0.1000, step 50 (1.17 h) 0.2500\n" in done.stdout
    assert out.is_file()


def test_a_label_names_the_line(tmp_path):
    session(tmp_path / "s1", time.time() - 10 * HOUR, {10: 2.0, 20: 1.9}, {20: 0.2}, 1.0)
    session(tmp_path / "s2", time.time() - 5 * HOUR, {10: 1.5}, {10: 0.3}, 1.0)
    out = tmp_path / "labelled.png"
    done = subprocess.run([sys.executable, "-m", "model_card.curves", f"crop 384={tmp_path}/s1,{tmp_path}/s2",
                           f"{tmp_path}/s1", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = {line.split(": ")[0]: line for line in done.stdout.splitlines() if ": step" in line}
    assert set(lines) == {"crop 384", "s1"}  # the label names the chained line; the other keeps its folder's name
    assert "step 20 " in lines["crop 384"] and "step 30 " in lines["crop 384"] and "step 30 " not in lines["s1"]
