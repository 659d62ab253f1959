"""train/cotrain.py end to end on a tiny generated Datasets repo with tiny SegFormers, on the CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import evaluate
import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState, GradientState
from safetensors.torch import load_file
from conftest import TINY
from PIL import Image, ImageDraw
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import pipeline

from animeparse.cps import CPSConfig
from animeparse.branches import ENSEMBLE
from animeparse.inference import load_branches, predict
from animeparse.labels import MERGE_16_TO_13, SCHEMA_13, SCHEMA_16, remap
from animeparse.metrics import EVALUATE_MODULE
from animeparse.files import png_bytes
from hf_dataset.records import FEATURES, label_value, make_row
from hf_dataset.writer import write_repo

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "train" / "cotrain.py"
spec = importlib.util.spec_from_file_location("cotrain", SCRIPT)
cotrain = sys.modules["cotrain"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cotrain)

SHAPE_CLASSES = (1, 2, 9, 10)
DIFFICULTIES = ("easy", "medium", "hard")
SPLITS = {"train": range(16), "unlabeled": range(100, 116), "validation": range(200, 207), "test": range(300, 305)}
"""7 validation images: an odd count, so two processes must pad and then drop a duplicate."""

FAST = [
    "--crop-size", "32", "--eval-size", "48", "--batch-size", "4",
    "--unlabeled-batch-size", "4", "--eval-batch-size", "2", "--num-workers", "0", "--lr", "3e-3",
    "--warmup-steps", "2", "--log-every", "5",
]
"""Tiny crops, no worker processes: with TINY_MODEL a step takes a few milliseconds."""
TINY_MODEL = ["--scratch-config", json.dumps(TINY)]


def shapes(seed: int, size: int = 48) -> tuple[Image.Image, np.ndarray]:
    """Two shapes in their classes' palette colors on a light background, and the exact labels."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), tuple(rng.randint(200, 255) for _ in range(3)))
    label = Image.new("L", (size, size), 0)
    for cls in rng.sample(SHAPE_CLASSES, 2):
        x0, y0 = rng.randint(0, size // 2), rng.randint(0, size // 2)
        box = (x0, y0, x0 + rng.randint(12, size // 2), y0 + rng.randint(12, size // 2))
        shape = rng.choice(["ellipse", "rectangle"])
        getattr(ImageDraw.Draw(image), shape)(box, fill=SCHEMA_16.palette[cls])
        getattr(ImageDraw.Draw(label), shape)(box, fill=cls)
    return image, np.asarray(label)


def rows(seeds, labeled: bool):
    for seed in seeds:
        image, label = shapes(seed)
        metadata = {"difficulty": DIFFICULTIES[seed % 3], "style": "color", "source": "shapes"}
        yield make_row({"bytes": png_bytes(image), "path": None}, label_value(label) if labeled else None, f"{seed}.png", metadata)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train several times faster on one thread, above all on a busy shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def shapes_repo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "shapes"
    splits = {name: rows(seeds, labeled=name != "unlabeled") for name, seeds in SPLITS.items()}
    write_repo(out, splits, FEATURES, SCHEMA_16, lambda counts: "---\nlicense: cc0-1.0\n---\n# Shapes\n")
    return out


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each in-process run builds its own Accelerator (mixed precision is process-wide state)."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def scalars(output_dir: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(output_dir / "logs" / "cotrain")).Reload()
    return [e.value for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def decreasing(values: list[float]) -> bool:
    return len(values) >= 4 and np.mean(values[-2:]) < 0.9 * np.mean(values[:2])


CPS_RUN = ["--max-steps", "60", "--cps-warmup-steps", "10", "--eval-every", "30", "--save-every", "10"]


@pytest.fixture(scope="module")
def cps_run(one_thread, shapes_repo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cps"
    cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, *CPS_RUN])
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    return out


def test_cps_run_trains_both_losses_down_and_writes_everything(cps_run):
    assert decreasing(scalars(cps_run, "train/loss_sup"))
    cps = scalars(cps_run, "train/loss_cps")
    assert len(cps) == 10 and all(0 < c < 10 for c in cps)  # logged every 5 steps after the 10 supervised ones
    assert scalars(cps_run, "train/cps_weight")[:3] == [0, 0, 1.5]
    total_with_cps = scalars(cps_run, "train/loss")[2:]
    assert total_with_cps[-1] < total_with_cps[0]
    assert {p.name for p in cps_run.iterdir()} >= {"model_a", "model_b", "metrics.json", "checkpoints", "logs"}
    for branch in ("model_a", "model_b"):
        files = {p.name for p in (cps_run / branch).iterdir()}
        assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= files
        assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    config = json.loads((cps_run / "model_a" / "config.json").read_text())
    assert config["id2label"] == {str(i): n for i, n in enumerate(SCHEMA_16.names)}


def test_metrics_cover_branches_ensemble_difficulties_and_the_13_class_merge(cps_run):
    metrics = json.loads((cps_run / "metrics.json").read_text())
    assert metrics["trained_steps"] == 60 and metrics["best_step"] in (30, 60)
    assert metrics["exported"] == "best" and metrics["step"] == metrics["best_step"]
    assert metrics["config"]["labeled_images"] == 16 and metrics["config"]["unlabeled_images"] == 16
    for split, count in (("validation", 7), ("test", 5)):
        result = metrics["splits"][split]
        assert result["num_images"] == count
        assert set(result["schemas"]) == {"anime-16", "anime-13"}
        for variant in ("A", "B", "A+B"):
            entry = result["schemas"]["anime-16"][variant]
            assert 0 < entry["mean_iou"] <= 1
            assert sum(g["num_images"] for g in entry["per_difficulty"].values()) == count
            assert set(entry["per_difficulty"]) == set(DIFFICULTIES)
        merged = result["schemas"]["anime-13"]["A"]
        assert list(merged["per_category_iou"]) == ["background", "hair", "face", "eyes", "mouth", "skin", "top",
                                                    "bottom", "legwear", "headwear", "accessories", "animal_parts", "props"]
    assert metrics["splits"]["validation"]["schemas"]["anime-16"]["A+B"]["mean_iou"] > 0.3  # learned the shapes


def test_exported_model_works_in_pipeline_and_matches_the_reported_metrics(cps_run, shapes_repo):
    """pipeline(...) on the saved model, scored by the evaluate module, gives metrics.json's numbers."""
    parser = pipeline("image-segmentation", model=str(cps_run / "model_a"))
    preds, refs = [], []
    for seed in SPLITS["validation"]:
        image, label = shapes(seed)
        pred = np.zeros(label.shape, dtype=np.int64)
        for part in parser(image):
            pred[np.asarray(part["mask"]) > 0] = SCHEMA_16.label2id[part["label"]]
        preds.append(pred)
        refs.append(label)
    result = evaluate.load(str(EVALUATE_MODULE)).compute(
        predictions=preds, references=refs, num_labels=16, label_names=list(SCHEMA_16.names)
    )
    reported = json.loads((cps_run / "metrics.json").read_text())["splits"]["validation"]["schemas"]["anime-16"]["A"]
    assert result == {k: v for k, v in reported.items() if k != "per_difficulty"}  # same pixels, same counts


def test_13_class_metrics_measure_the_maps_the_app_returns(cps_run):
    """One 13-class rule: training's merged metrics equal the evaluate module scoring the 13-class
    maps that the app and the batch command make (members' probabilities summed, then argmax),
    from the plain forward pass that training measures (the app's --no-flip)."""
    branches = load_branches({b: str(cps_run / f"model_{b.lower()}") for b in ("A", "B")}, flip=False)  # as training
    for use in ("A", "B", ENSEMBLE):
        preds, refs = [], []
        for seed in SPLITS["validation"]:
            image, label = shapes(seed)
            preds.append(predict(branches, image, use).labels(use, SCHEMA_13))
            refs.append(remap(label, MERGE_16_TO_13))
        result = evaluate.load(str(EVALUATE_MODULE)).compute(
            predictions=preds, references=refs, num_labels=13, label_names=list(SCHEMA_13.names)
        )
        reported = json.loads((cps_run / "metrics.json").read_text())["splits"]["validation"]["schemas"]["anime-13"][use]
        assert result == {k: v for k, v in reported.items() if k != "per_difficulty"}


def test_model_card_has_hub_metadata_and_measured_tables(cps_run):
    card = (cps_run / "model_b" / "README.md").read_text()
    metrics = json.loads((cps_run / "metrics.json").read_text())
    measured = metrics["splits"]["test"]["schemas"]["anime-16"]["B"]["mean_iou"]
    assert "pipeline_tag: image-segmentation" in card and "library_name: transformers" in card
    assert "model-index:" in card and f"value: {round(measured, 4)}" in card
    assert "| eyebrows |" in card and "| hard |" in card and "## Limitations" in card
    assert f"| CPS weight | `{metrics['config']['cps_weight']}` |" in card
    assert "branch **B**" in card and str(cps_run / "model_a") in card
    assert "models co-trained with cross pseudo supervision (CPS with CutMix" in card


def test_cards_name_the_training_data_and_its_terms(cps_run, tmp_path):
    """A dataset whose card has a "Sources and terms" section (Live2D builds) passes it on to the
    model cards, with the weights' license kept apart from the code's."""
    from model_card.publish import pair_cards

    metrics = json.loads((cps_run / "metrics.json").read_text())
    data = tmp_path / "live2d_parts"
    data.mkdir()
    (data / "README.md").write_text("# data\n\n## Sources and terms\n\nPictures drawn from Live2D sample models, "
                                    "Free Material License.\n\n| split | characters |\n|---|---|\n| train | shizuku |\n")
    plain = pair_cards(tmp_path / "pair", metrics, list(SCHEMA_16.names))["A"]
    metrics["config"] = {**metrics["config"], "dataset": str(data), "dataset_id": None}
    card = pair_cards(tmp_path / "pair", metrics, list(SCHEMA_16.names))["A"]
    assert "## Training data" in plain and "Live2D" not in plain and "license: other" not in plain
    assert "Free Material License" in card and "| train | shizuku |" in card
    assert "license: other" in card and "not under the code's license alone" in card


def test_results_table_puts_runs_side_by_side(cps_run, tmp_path):
    """python -m model_card.results_table: a row per run, mean IoU per difficulty and overall, 16 and 13 classes."""
    metrics = json.loads((cps_run / "metrics.json").read_text())
    other = tmp_path / "sup"
    other.mkdir()
    (other / "metrics.json").write_text(json.dumps({**metrics, "config": {**metrics["config"], "cps_weight": 0.0}}))
    done = subprocess.run([sys.executable, "-m", "model_card.results_table", str(other), str(cps_run)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    header, _, sup, cps = done.stdout.splitlines()
    assert "easy (anime-16)" in header and "hard (anime-13)" in header and header.count("all (") == 2
    test = metrics["splits"]["test"]["schemas"]
    assert sup.startswith("| sup |") and "| 0 | 60 |" in sup
    assert cps.startswith(f"| cps | {metrics['config']['labeled_fraction']:g} | 1.5 | 60 |")
    assert cps.split(" | ")[-1] == f"{100 * test['anime-13']['A+B']['mean_iou']:.1f} |"
    easy16 = test["anime-16"]["A+B"]["per_difficulty"]["easy"]["mean_iou"]
    assert cps.split(" | ")[4] == f"{100 * easy16:.1f}"


def test_publish_copies_a_run_into_a_models_folder(cps_run, tmp_path):
    """python -m model_card.publish RUN DEST: loadable models whose cards name DEST; a bad run leaves DEST alone."""
    dest = tmp_path / "models" / "parts-b0"
    done = subprocess.run([sys.executable, "-m", "model_card.publish", str(cps_run), str(dest)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["metrics.json", "model_a", "model_b"]
    assert (dest / "model_b" / "model.safetensors").read_bytes() == (cps_run / "model_b" / "model.safetensors").read_bytes()
    card = (dest / "model_a" / "README.md").read_text()
    assert f'model="{dest / "model_a"}"' in card and str(dest / "model_b") in card and str(cps_run) not in card
    labels = {part["label"] for part in pipeline("image-segmentation", model=str(dest / "model_a"))(Image.new("RGB", (40, 40), "white"))}
    assert labels <= set(SCHEMA_16.names)

    bad = subprocess.run([sys.executable, "-m", "model_card.publish", str(tmp_path / "nothing"), str(dest)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "is not a finished training run: missing" in bad.stderr
    assert (dest / "model_a" / "README.md").read_text() == card


def test_checkpoints_keep_only_the_best_and_the_latest(cps_run):
    metrics = json.loads((cps_run / "metrics.json").read_text())
    kept = sorted(p.name for p in (cps_run / "checkpoints").iterdir())
    assert kept == sorted({f"step-{metrics['best_step']:08d}", "step-00000060"})
    state = cps_run / "checkpoints" / "step-00000060"
    assert {"model.safetensors", "model_1.safetensors", "optimizer.bin", "optimizer_1.bin", "scheduler.bin",
            "scheduler_1.bin", "random_states_0.pkl", "config.json"} <= {p.name for p in state.iterdir()}
    assert json.loads((state / "config.json").read_text())["cps_weight"] == 1.5


def test_cps_options_make_the_method_config():
    args = cotrain.parse_args(["--dataset", "d", "--output-dir", "o", "--cps-weight", "2", "--cps-warmup-steps", "10",
                               "--cps-rampup-steps", "4", "--cps-threshold", "0.7", "--cutmix-area", "0.3", "0.4",
                               "--cutmix-boxes", "2"])
    assert cotrain.cps_config(args) == CPSConfig(weight=2, warmup_steps=10, rampup_steps=4, threshold=0.7,
                                                 cutmix_area=(0.3, 0.4), cutmix_boxes=2)
    assert cotrain.cps_config(cotrain.parse_args(["--dataset", "d", "--output-dir", "o"])) == CPSConfig()


def test_supervised_baseline_in_bf16_uses_no_unlabeled_images(shapes_repo, tmp_path, caplog):
    out = tmp_path / "supervised"
    metrics = cotrain.main([
        "--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, "--max-steps", "25", "--cps-weight", "0",
        "--mixed-precision", "bf16", "--eval-every", "0", "--save-every", "0",
    ])
    assert decreasing(scalars(out, "train/loss_sup")) and scalars(out, "train/loss_cps") == []
    assert metrics["config"]["unlabeled_images"] == 0 and metrics["exported"] == "last" and metrics["step"] == 25
    assert not (out / "checkpoints").exists()
    assert (out / "model_a" / "model.safetensors").is_file()
    # emulated bf16 is an order of magnitude slower than fp32: said where the CPU lacks it, only there
    assert ("no native bf16 instructions" in caplog.text) == (not torch.ops.mkldnn._is_mkldnn_bf16_supported())


def test_class_weights_favor_the_rare_shapes_and_are_recorded(shapes_repo, tmp_path):
    out = tmp_path / "weighted"
    metrics = cotrain.main([
        "--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, "--max-steps", "6", "--cps-weight", "0",
        "--class-weight-power", "0.5", "--eval-every", "0", "--save-every", "0",
    ])
    weights = metrics["config"]["class_weights"]
    assert set(weights) == set(SCHEMA_16.names)
    # the light background covers most pixels: it weighs least; each shape class weighs more than 1
    assert weights["background"] < 1 < min(weights[SCHEMA_16.names[c]] for c in SHAPE_CLASSES)
    assert np.isfinite(scalars(out, "train/loss_sup")).all()
    assert "class weight power" in (out / "model_a" / "README.md").read_text()


def test_background_swap_trains_and_is_named_in_the_cards(shapes_repo, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(photos / f"p{i}.jpg")
    out = tmp_path / "swapped"
    metrics = cotrain.main([
        "--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, "--max-steps", "4", "--cps-weight", "0",
        "--background-swap", "1", "--background-photos", str(photos), "--background-hue", "0.5",
        "--background-letters", "1", "--part-recolor", "0.5", "--eval-every", "0", "--save-every", "0",
    ])
    assert metrics["config"]["background_swap"] == 1 and np.isfinite(scalars(out, "train/loss_sup")).all()
    card = (out / "model_a" / "README.md").read_text()
    assert "background swap probability" in card and "swapped the background of 100% of the labeled crops" in card
    assert "| letters on the background probability | `1.0` |" in card and "| hair and clothes recolor probability | `0.5` |" in card
    assert "(16:9: 48 x 96)" in card  # how the app frames a wide picture, at this run's input size
    assert "hue rotated by up to 0.5 of a turn" in card and "crops for photographs and artwork from a local folder" in card
    from model_card.render import background_origin

    both = background_origin(["debian", "games"])
    assert "wallpaper packages (ukui-wallpapers, CC-BY-SA-3.0" in both and "free games (wesnoth-1.16-data, GPL-2" in both
    assert background_origin("debian") == background_origin(["debian"])  # older runs recorded one source
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no pictures"):
        cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(tmp_path / "none"), *TINY_MODEL, *FAST,
                      "--max-steps", "4", "--cps-weight", "0", "--background-swap", "1", "--background-photos", str(empty)])


def test_ema_weights_are_evaluated_exported_checkpointed_and_resumed(shapes_repo, tmp_path):
    out = tmp_path / "ema"
    common = ["--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, "--cps-weight", "0",
              "--ema-decay", "0.8", "--eval-every", "4", "--save-every", "4", "--export", "last"]
    cotrain.main([*common, "--max-steps", "4"])
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    metrics = cotrain.main([*common, "--max-steps", "8", "--resume"])
    assert metrics["step"] == 8 and metrics["config"]["ema_decay"] == 0.8
    # the trained weights' scores are logged beside the averaged ones, at every evaluation
    assert len(scalars(out, f"eval/raw_mean_iou_{ENSEMBLE}")) == len(scalars(out, f"eval/mean_iou_{ENSEMBLE}")) == 2
    # the exported model is the moving average kept in the checkpoint, not the trained weights
    ckpt = out / "checkpoints" / "step-00000008"
    exported = load_file(out / "model_a" / "model.safetensors")
    trained = load_file(ckpt / "model.safetensors")
    averaged = torch.load(ckpt / "custom_checkpoint_1.pkl", weights_only=True)
    name = "decode_head.classifier.weight"
    assert torch.equal(exported[name], averaged[f"module.{name}"])
    assert not torch.equal(exported[name], trained[name])
    assert "EMA decay" in (out / "model_a" / "README.md").read_text()
    # a checkpoint exports the same averaged pair
    from animeparse.checkpoints import export_checkpoint

    folders = export_checkpoint(ckpt, tmp_path / "exported")
    assert torch.equal(load_file(folders["A"] / "model.safetensors")[name], exported[name])


def run_script(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_resume_after_sigkill_ends_at_the_same_step_with_close_metrics(shapes_repo, cps_run, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, str(SCRIPT), "--dataset", str(shapes_repo), "--output-dir", str(out), *TINY_MODEL, *FAST, *CPS_RUN,
               "--report-to", "none"]
    proc = run_script(command)
    first = out / "checkpoints" / "step-00000010"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0][-3000:]  # still training: the kill interrupts it
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists()
    # a kill in the middle of a save leaves only a hidden temporary folder, which resume ignores
    (out / "checkpoints" / ".tmp-step-00000099").mkdir()

    resumed = run_script(command + ["--resume"])
    log = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, log[-3000:]
    assert "resumed from" in log
    metrics = json.loads((out / "metrics.json").read_text())
    reference = json.loads((cps_run / "metrics.json").read_text())
    assert metrics["trained_steps"] == reference["trained_steps"] == 60
    for variant in ("A", "B", "A+B"):
        got = metrics["splits"]["validation"]["schemas"]["anime-16"][variant]["mean_iou"]
        expected = reference["splits"]["validation"]["schemas"]["anime-16"][variant]["mean_iou"]
        assert got == pytest.approx(expected, abs=0.1)  # a resumed run draws random numbers in another order


def test_resume_refuses_changed_settings(shapes_repo, cps_run, tmp_path, capsys):
    with pytest.raises(SystemExit, match=r"cps_weight: 1.5 -> 2.0"):
        cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(cps_run), *TINY_MODEL, *FAST, *CPS_RUN,
                      "--cps-weight", "2", "--resume"])
    with pytest.raises(SystemExit, match="--resume to continue it or --overwrite"):
        cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(cps_run), *TINY_MODEL, *FAST, *CPS_RUN])


def test_an_option_added_after_a_checkpoint_counts_as_its_default_there():
    """A checkpoint saved before --aspect-range existed resumes with it at its default, not otherwise."""
    saved = {"lr": 2e-4, "scale_range": [0.75, 1.5], "schema": "anime-16"}
    cotrain.check_resume_config(saved, {**saved, "aspect_range": [1.0, 1.0]})
    with pytest.raises(SystemExit, match=r"aspect_range: \[1.0, 1.0\] -> \[0.5, 2.0\]"):
        cotrain.check_resume_config(saved, {**saved, "aspect_range": [0.5, 2.0]})


def test_two_processes_evaluate_exactly_like_one(shapes_repo, tmp_path):
    """torchrun with 2 CPU processes (gloo) trains, then evaluates 7 images split 4 + 4 with one
    padded duplicate; one process evaluating the exported weights must get the same numbers."""
    two = tmp_path / "two"
    # --standalone: a free port of its own rather than the fixed default, 29500
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT)]
    proc = run_script(torchrun + ["--dataset", str(shapes_repo), "--output-dir", str(two), *TINY_MODEL, *FAST, "--max-steps", "6",
                                  "--cps-warmup-steps", "2", "--eval-every", "3", "--save-every", "3", "--export", "last",
                                  "--report-to", "none"])
    try:
        log = proc.communicate(timeout=180)[0]
    except subprocess.TimeoutExpired:  # it passes in about 10 s, and hung once in CI: show where it was
        proc.terminate()  # torchrun stops its workers (each in a session of its own) on SIGTERM
        pytest.fail("torchrun with 2 processes did not finish in 180 s; its output:\n" + proc.communicate(timeout=60)[0][-3000:])
    assert proc.returncode == 0, log[-3000:]
    distributed = json.loads((two / "metrics.json").read_text())
    assert distributed["config"]["num_processes"] == 2
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= {p.name for p in (two / "checkpoints" / "step-00000006").iterdir()}

    single = cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(tmp_path / "one"), *FAST,
                           "--init", str(two / "model_a"), "--max-steps", "0", "--report-to", "none"])
    assert single["config"]["num_processes"] == 1
    for split, count in (("validation", 7), ("test", 5)):
        assert distributed["splits"][split]["num_images"] == single["splits"][split]["num_images"] == count
        for schema in ("anime-16", "anime-13"):
            assert distributed["splits"][split]["schemas"][schema]["A"] == single["splits"][split]["schemas"][schema]["A"]


def test_push_to_hub_then_pipeline_from_the_hub(hub, shapes_repo, tmp_path):
    out = tmp_path / "pushed"
    cotrain.main(["--dataset", str(shapes_repo), "--dataset-id", "org/shapes", "--output-dir", str(out), *TINY_MODEL, *FAST,
                  "--max-steps", "3", "--cps-warmup-steps", "1", "--eval-every", "0", "--save-every", "0",
                  "--report-to", "none", "--push-to-hub", "org/parser"])
    for branch in ("a", "b"):
        files = hub.files(f"org/parser-{branch}")
        assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= set(files)
        card = files["README.md"].decode()
        assert "- org/shapes" in card and 'model="org/parser-' + branch + '"' in card
        assert files["model.safetensors"] == (out / f"model_{branch}" / "model.safetensors").read_bytes()
    parser = pipeline("image-segmentation", model="org/parser-a")
    image, _ = shapes(0)
    parts = parser(image)
    assert parts and all(p["label"] in SCHEMA_16.names and p["mask"].size == image.size for p in parts)


def test_unreachable_hub_init_is_a_clear_error(shapes_repo, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dataset", str(shapes_repo), "--output-dir", str(tmp_path / "o"),
                           "--init", "nvidia/mit-b0", "--max-steps", "1", "--warmup-steps", "0", "--report-to", "none"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "cannot load model 'nvidia/mit-b0'" in proc.stderr and "--init scratch" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--crop-size", "30"], "--crop-size must be a multiple of 4"),
        (["--labeled-fraction", "0"], "--labeled-fraction must be in"),
        (["--cutmix-area", "0.6", "0.3"], "--cutmix-area needs"),
        (["--lineart-p", "1.5"], "--lineart-p is a probability"),
        (["--cps-threshold", "1.2"], "--cps-threshold is a probability"),
        (["--cps-rampup-steps", "-1"], "--cps-rampup-steps must be 0 or more"),
        (["--unlabeled-batch-size", "1"], "at least 2: CutMix pairs"),
        (["--scratch-config", '{"hidden_size": 3}'], "unknown SegformerConfig fields"),
        (["--scratch-config", "[1]"], "must be a JSON object"),
        (["--warmup-steps", "50", "--max-steps", "50"], "must be less than --max-steps"),
        (["--push-to-hub", "noslash"], "ORG/NAME"),
        (["--background-swap", "2"], "--background-swap is a probability"),
        (["--background-hue", "0.7"], "--background-hue is a fraction of a turn from 0 to 0.5"),
        (["--part-recolor", "-0.1"], "--part-recolor is a probability"),
        (["--background-letters", "1.5"], "--background-letters is a probability"),
        (["--background-swap", "0.5", "--background-photos", "/no/such/folder"], "not a folder (or one of debian, games, debian-v1)"),
    ],
)
def test_bad_options_are_named(extra, message, capsys):
    with pytest.raises(SystemExit):
        cotrain.parse_args(["--dataset", "d", "--output-dir", "o", *extra])
    assert message in capsys.readouterr().err


def test_bad_data_choices_are_named(shapes_repo, tmp_path):
    base = ["--dataset", str(shapes_repo), "--output-dir", str(tmp_path / "o"), *TINY_MODEL, *FAST, "--max-steps", "5"]
    with pytest.raises(SystemExit, match="no 'dev' split; it has"):
        cotrain.main(base + ["--eval-split", "dev"])
    with pytest.raises(SystemExit, match="needs unlabeled images"):
        cotrain.main(base + ["--unlabeled-split", ""])
    with pytest.raises(SystemExit, match="fewer than one batch"):
        cotrain.main(base + ["--labeled-fraction", "0.1"])
    with pytest.raises(SystemExit, match="schema file not found"):
        cotrain.main(base + ["--classes", str(tmp_path / "missing.json")])


def test_init_b_starts_branch_b_from_its_own_checkpoint(cps_run, shapes_repo, tmp_path):
    """Continuing a co-trained pair: A from its model_a, B from its model_b (not a copy of A)."""

    out = tmp_path / "continued"
    cotrain.main(["--dataset", str(shapes_repo), "--output-dir", str(out), *FAST, "--init", str(cps_run / "model_a"),
                  "--init-b", str(cps_run / "model_b"), "--max-steps", "0", "--report-to", "none"])
    for branch in ("model_a", "model_b"):
        before = load_file(cps_run / branch / "model.safetensors")
        after = load_file(out / branch / "model.safetensors")
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before), branch
    a, b = load_file(out / "model_a" / "model.safetensors"), load_file(out / "model_b" / "model.safetensors")
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_remeasure_reproduces_a_runs_metrics_and_keeps_other_files(cps_run, shapes_repo, tmp_path):
    """python -m model_card.remeasure: the same evaluation on the same data gives the same metrics.json."""
    dest = tmp_path / "pair"
    for branch in ("model_a", "model_b"):
        shutil.copytree(cps_run / branch, dest / branch)
    (dest / "model_a" / "extra.txt").write_text("kept")
    reported = json.loads((cps_run / "metrics.json").read_text())
    (dest / "metrics.json").write_text(json.dumps({**reported, "splits": {"test": {}}}))  # stale numbers
    done = subprocess.run([sys.executable, "-m", "model_card.remeasure", str(dest), "--dataset", str(shapes_repo),
                           "--batch-size", "2"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads((dest / "metrics.json").read_text())["splits"]["test"] == reported["splits"]["test"]
    assert (dest / "model_a" / "extra.txt").read_text() == "kept"
    assert f"{100 * reported['splits']['test']['schemas']['anime-16']['B']['mean_iou']:.1f}" in (dest / "model_b" / "README.md").read_text()


def test_calibration_writes_a_pair_whose_bias_carries_the_fitted_offsets(cps_run, shapes_repo, tmp_path):
    """python -m animeparse.calibration: offsets fitted on the validation split, for the classes it
    shows only, added to both classifiers' bias; every other weight as trained; the record in
    metrics.json. Bad folders are refused before anything is written."""
    out = tmp_path / "calibrated"
    done = subprocess.run([sys.executable, "-m", "animeparse.calibration", str(cps_run), "--dataset", str(shapes_repo),
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "metrics.json").read_text())["calibration"]
    assert record["split"] == "validation" and record["num_images"] == len(SPLITS["validation"])
    assert set(record["classes_fitted"]) == {"background", *(SCHEMA_16.names[c] for c in SHAPE_CLASSES)}
    assert all(v == 0 for k, v in record["offsets"].items() if k not in record["classes_fitted"])
    assert record["mean_iou_after"] > record["mean_iou_before"]  # a 60-step tiny pair is far from calibrated
    offsets = torch.tensor([record["offsets"][n] for n in SCHEMA_16.names])
    assert offsets.any()
    for branch in ("model_a", "model_b"):
        before = load_file(cps_run / branch / "model.safetensors")
        after = load_file(out / branch / "model.safetensors")
        bias = "decode_head.classifier.bias"
        torch.testing.assert_close(after[bias], before[bias] + offsets, atol=1e-6, rtol=0)
        assert all(torch.equal(before[k], after[k]) for k in before if k != bias), branch
    assert pipeline("image-segmentation", model=str(out / "model_a"))
    publish = subprocess.run([sys.executable, "-m", "model_card.publish", str(out), str(tmp_path / "published")],
                             capture_output=True, text=True, cwd=ROOT)
    assert publish.returncode == 0, publish.stderr
    card = (tmp_path / "published" / "model_b" / "README.md").read_text()
    name, value = next((k, v) for k, v in record["offsets"].items() if v)
    assert "offsets fitted on the `validation` split" in card and f"{name} {value:+.2f}" in card
    for run, message in ((tmp_path / "none", "is not a pair folder"), (out, "must differ")):
        failed = subprocess.run([sys.executable, "-m", "animeparse.calibration", str(run), "--dataset", str(shapes_repo),
                                 "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
        assert failed.returncode == 2 and message in failed.stderr
    assert (out / "metrics.json").is_file()


def test_a_checkpoint_exports_the_pair_it_holds(cps_run, tmp_path):
    """python -m animeparse.checkpoints: the best step's checkpoint gives the exported pair exactly."""

    from animeparse.checkpoints import checkpoints, export_checkpoint

    exported = [export_checkpoint(c, tmp_path / c.name) for c in checkpoints(cps_run / "checkpoints")]
    published = {b: load_file(cps_run / f"model_{b.lower()}" / "model.safetensors") for b in ("A", "B")}

    def same(folder: Path, branch: str) -> bool:
        weights = load_file(folder / "model.safetensors")
        return all(torch.equal(weights[k], published[branch][k]) for k in published[branch])

    assert any(same(f["A"], "A") and same(f["B"], "B") for f in exported)
    assert pipeline("image-segmentation", model=str(exported[0]["A"]))  # a plain transformers checkpoint
    with pytest.raises(FileNotFoundError, match="not a training checkpoint"):
        export_checkpoint(tmp_path, tmp_path / "nothing")


def test_a_run_on_saved_corrections_that_ends_before_cps_says_so(tmp_path, caplog):
    """A repo of rows saved one by one (as the app saves corrections) trains as it is; a run whose
    --max-steps ends before the CPS warm-up warns at start, and its cards say it was supervised only."""
    from hf_dataset.append import append_rows
    from model_card.render import CPS_METHOD

    repo = tmp_path / "corrections"
    for split, seeds in (("train", range(8)), ("validation", range(200, 202))):
        for row in rows(seeds, labeled=True):
            append_rows(repo, split, [row], SCHEMA_16)
    out = tmp_path / "run"
    metrics = cotrain.main(["--dataset", str(repo), "--output-dir", str(out), *TINY_MODEL, *FAST, "--max-steps", "4",
                            "--labeled-fraction", "0.5", "--eval-every", "0", "--save-every", "0"])
    assert metrics["trained_steps"] == 4 and metrics["config"]["labeled_images"] == 4
    assert "ends before CPS starts" in caplog.text
    card = (out / "model_a" / "README.md").read_text()
    assert "trained supervised only: the run's 4 steps ended before cross pseudo supervision" in card
    assert CPS_METHOD not in card


def test_help_answers_without_importing_the_training_libraries():
    code = ("import runpy, sys\nsys.argv = ['cotrain.py', '--help']\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'transformers', 'datasets', 'accelerate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "train", capture_output=True, text=True, timeout=60)
    assert "--cps-warmup-steps" in done.stdout and done.stdout.strip().endswith("[]"), done.stdout + done.stderr


def test_a_resumed_run_may_go_on_longer_but_not_end_before_its_checkpoint(shapes_repo, cps_run, tmp_path):
    """--max-steps may change on --resume: a finished 60-step run extended to 70 trains 10 more steps."""
    run = tmp_path / "extended"
    shutil.copytree(cps_run, run)
    args = ["--dataset", str(shapes_repo), "--output-dir", str(run), *TINY_MODEL, *FAST, *CPS_RUN, "--report-to", "none", "--resume"]
    with pytest.raises(SystemExit, match="at step 60, past --max-steps 30"):
        cotrain.main(args + ["--max-steps", "30"])
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    metrics = cotrain.main(args + ["--max-steps", "70"])
    assert metrics["trained_steps"] == 70
    assert metrics["config"]["max_steps"] == 70
    assert (run / "checkpoints" / "step-00000070").is_dir()
