"""Every benchmark in bench/ still runs: its --help, and a minimal run of each (tiny sizes and
counts; the figures mean nothing, only that the script works end to end)."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_help(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(BENCH / script), run_name="__main__")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_bench_cps_step():
    out = run("bench_cps_step.py", "--crop-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0",
              "--precision", "fp32", "--threads", "1")
    assert "CPS" in out and "supervised, 2 branches" in out


def test_bench_build():
    assert "build / encode" in run("bench_build.py", "--num", "4", "--size", "64", "--skip-rss")


def test_bench_synth():
    assert "render" in run("bench_synth.py", "--num", "4", "--size", "64", "--workers", "1", "--rounds", "1")


def test_synth_coverage():
    assert "OK: every class" in run("synth_coverage.py", "--num", "30", "--size", "64", "--workers", "1", "--min-share", "0")


def test_bench_app():
    out = run("bench_app.py", "--rounds", "1", "--clients", "2", "--size", "64")
    assert "2/2 correct answers" in out


def test_bench_correct():
    out = run("bench_correct.py", "--rounds", "1", "--size", "64", "--rows", "2", "5")
    assert "paint: read a stroke and redraw" in out and "save time at 5 rows / at 2 rows" in out


def test_bench_onnx(onnx_model_dir):
    assert "onnx fp32" in run("bench_onnx.py", "--model", str(onnx_model_dir), "--size", "64", "--repeats", "1")


def renpy_tree(root: Path) -> Path:
    """The layout of the unpacked Ren'Py packages, with one small sprite, background and concert scene."""
    images = root / "usr" / "share" / "games" / "renpy" / "game" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rgba = np.dstack([rng.integers(0, 256, (96, 48, 3), dtype=np.uint8), np.zeros((96, 48), np.uint8)])
    rgba[20:90, 10:38, 3] = 255  # the character
    Image.fromarray(rgba, "RGBA").save(images / "sylvie green normal.png")
    Image.fromarray(rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)).save(images / "bg park.jpg")
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(images / "concert1.jpg")
    return root


def test_real_check(tiny_branch_dirs, tmp_path):
    out = run("real_check.py", "--renpy", str(renpy_tree(tmp_path / "renpy")), "--backgrounds", "1", "--out", str(tmp_path / "out"),
              "--model-a", str(tiny_branch_dirs["A"]), "--model-b", str(tiny_branch_dirs["B"]))
    assert "foreground IoU" in out and (tmp_path / "out" / "overview.png").is_file()


def test_real_check_variants_keep_the_sprite_under_its_truth():
    """Every picture made of a sprite (white, busy, 16:9 screen, line art) has the sprite's opaque
    pixels exactly where its truth says, whatever the canvas."""
    real_check = runpy.run_path(str(BENCH / "real_check.py"))
    rng = np.random.default_rng(1)
    rgba = np.dstack([rng.integers(0, 256, (90, 40, 3), dtype=np.uint8), np.zeros((90, 40), np.uint8)])
    rgba[10:85, 5:30, 3] = 255
    sprite = Image.fromarray(rgba, "RGBA")
    background = Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
    pictures = real_check["variants"](sprite, [background])
    assert sorted(pictures) == ["busy0", "lineart", "screen0", "white"]
    for name, (image, truth) in pictures.items():
        assert truth.shape == (image.height, image.width) and truth.sum() == 75 * 25, name
        if name != "lineart":
            assert (np.asarray(image)[truth] == rgba[10:85, 5:30, :3].reshape(-1, 3)).all(), name
    screen, truth = pictures["screen0"]
    assert screen.size == (160, 90)  # 16:9 at the sprite's height
    columns = np.flatnonzero(truth.any(0))
    assert columns[0] == 160 // 3 - 20 + 5  # standing a third from the left


@pytest.fixture(scope="module")
def heldout_repo(tmp_path_factory) -> Path:
    """A held-out split of the one Live2D model the tests install."""
    from animeparse.live2d.characters import install
    from hf_dataset.build import main as build

    install(["epsilon2_1"])
    repo = tmp_path_factory.mktemp("live2d") / "repo"
    assert build(["live2d", "--out", str(repo), "--num-test", "2", "--size", "64", "--workers", "1",
                  "--heldout-models", "epsilon2_1", "--train-models", "koharu"]) == 0
    return repo


def test_real_benchmark(tiny_branch_dirs, heldout_repo, tmp_path):
    """The held-out split scored with the tiny pair."""
    out = run("real_benchmark.py", "--dataset", str(heldout_repo), "--renpy", str(renpy_tree(tmp_path / "renpy")), "--out", str(tmp_path / "out"),
              "--model-a", str(tiny_branch_dirs["A"]), "--model-b", str(tiny_branch_dirs["B"]))
    assert "real parts, 16-class mIoU" in out and "classes in truth" in out
    assert "Ren'Py foreground, busy" in out and "Ren'Py foreground, screen" in out
    assert (tmp_path / "out" / "metrics.json").is_file() and (tmp_path / "out" / "overview.png").is_file()


def test_aspect_check(tiny_branch_dirs, heldout_repo, tmp_path):
    out = run("aspect_check.py", "--renpy", str(renpy_tree(tmp_path / "renpy")), "--dataset", str(heldout_repo),
              "--pairs", "1", "--backgrounds", "1", "--model-a", str(tiny_branch_dirs["A"]), "--model-b", str(tiny_branch_dirs["B"]))
    assert all(k in out for k in ("edge square", "frame", "16:9 screen", "wide pictures"))


def test_real_benchmark_reports_classes_absent_from_the_truth():
    """A class the truth lacks scores 0 on a false alarm; the benchmark also gives the mean over
    the classes the truth holds, the share of pixels called an absent class, and what those
    pixels truly are."""
    import torch

    benchmark = runpy.run_path(str(BENCH / "real_benchmark.py"))
    cm = torch.zeros(16, 16, dtype=torch.long)
    # rows truth, columns prediction: hair missed as background; background and hair called legs
    cm[0, 0], cm[1, 1], cm[1, 0], cm[0, 8], cm[1, 8] = 8, 2, 2, 3, 1
    absent = benchmark["absent_classes"](cm, benchmark["summarize"](cm, benchmark["SCHEMA_16"].names))
    assert "legs" in absent["classes"] and "hair" not in absent["classes"] and len(absent["classes"]) == 14
    assert absent["predicted_share"] == pytest.approx(4 / 16)
    assert absent["mean_iou_present"] == pytest.approx((8 / 13 + 2 / 5) / 2)
    assert absent["taken_from"] == {"legs": {"background": 0.75, "hair": 0.25}}
    assert "at_ignored_edge" not in absent
    at_ignored = torch.zeros(16, dtype=torch.long)
    at_ignored[8] = 3  # three of the four legs pixels lie at the edge of ignored truth
    absent = benchmark["absent_classes"](cm, benchmark["summarize"](cm, benchmark["SCHEMA_16"].names), at_ignored)
    assert absent["at_ignored_edge"] == {"legs": pytest.approx(0.75)}


def test_real_benchmark_counts_predictions_at_the_edge_of_ignored_truth():
    """Pixels within IGNORED_EDGE of ignored truth are counted per predicted class; the ignored
    pixels themselves and those farther away are not."""
    benchmark = runpy.run_path(str(BENCH / "real_benchmark.py"))
    edge = benchmark["IGNORED_EDGE"]
    truth = np.zeros((40, 40), np.uint8)
    truth[10:20, 10:20] = 255
    pred = np.full((40, 40), 11, np.uint8)  # legwear everywhere
    pred[30:, 30:] = 0  # background far from the ignored square
    counts = benchmark["near_ignored"](pred, truth)
    ring = (10 + 2 * edge) ** 2 - 10 * 10  # the square grown by IGNORED_EDGE on each side, less the square
    assert counts[11] == ring and counts.sum() == ring


def test_live2d_bench_and_coverage():
    from animeparse.live2d.characters import install

    install(["epsilon2_1"])
    assert "live2d: 64x64" in run("bench_synth.py", "--source", "live2d", "--models", "epsilon2_1", "--num", "2", "--size", "64",
                                  "--workers", "1", "--rounds", "1")
    assert "live2d: 6 pictures" in run("synth_coverage.py", "--source", "live2d", "--models", "epsilon2_1", "--num", "6",
                                       "--size", "64", "--workers", "1", "--min-share", "0")
