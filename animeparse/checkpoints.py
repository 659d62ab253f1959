"""A resumable training run with accelerate: its counters, checkpoints written whole, and a data
order that a resumed run replays exactly."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from accelerate import Accelerator


@dataclass
class Progress:
    """Counters stored in every checkpoint beside the models, optimizers, schedulers and RNG."""

    step: int = 0
    best_step: int = -1
    best_miou: float = -1.0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


def register_state(accelerator: Accelerator, progress: Progress, emas: tuple = ()) -> None:
    """Put the run's own state into every checkpoint: the counters, then each branch's moving
    average (--ema-decay), in that order, which :func:`export_checkpoint` reads them back in."""
    accelerator.register_for_checkpointing(progress, *emas)


def _custom_state(checkpoint: Path, index: int) -> Path:
    # accelerate's name for the index-th object given to register_for_checkpointing
    return checkpoint / f"custom_checkpoint_{index}.pkl"


def batches(accelerator: Accelerator, loader, start: int) -> Iterator[dict]:
    """Endless batches from a prepared loader, starting after ``start`` consumed batches, so a
    resumed run sees the data order of an uninterrupted one (epoch seeds, skipped batches)."""
    epoch, skip = divmod(start, len(loader))
    while True:
        epoch_loader = accelerator.skip_first_batches(loader, skip) if skip else loader
        epoch_loader.set_epoch(epoch)
        yield from epoch_loader
        epoch, skip = epoch + 1, 0


def checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (unfinished ones are hidden ``.tmp-`` folders)."""
    return sorted(root.glob("step-*")) if root.is_dir() else []


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def save_checkpoint(accelerator: Accelerator, root: Path, step: int, config: dict, keep: set[int]) -> None:
    """Write the accelerate state and config into a temporary folder, then rename it into place,
    so a killed run never leaves a half-written checkpoint; then drop all but ``keep`` steps.

    Every process writes its own RNG state into the folder, so its name is fixed (not the random
    one of :func:`animeparse.files.atomic_dir`) and the processes meet before and after."""
    final = checkpoint_dir(root, step)
    tmp = root / f".tmp-{final.name}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in checkpoints(root):
            if int(old.name.split("-")[1]) not in keep:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def export_checkpoint(checkpoint: Path, out: Path) -> dict[str, Path]:
    """Write the two branches saved in a training checkpoint as model_a/ and model_b/ under ``out``
    (plain transformers checkpoints with their image processor), so a run can be benchmarked or
    published at any saved step while it goes on: the weights the run exports, that is the moving
    averages of a run with --ema-decay. Returns the folders by branch."""
    import torch
    from safetensors.torch import load_file

    from animeparse.branches import BRANCHES
    from animeparse.labels import get_schema
    from animeparse.model import build_model, make_processor, save_model

    config_path = checkpoint / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{checkpoint}: not a training checkpoint (no config.json)")
    config = json.loads(config_path.read_text())
    schema = get_schema(config["classes"])
    # accelerate names the prepared models' weights model.safetensors, model_1.safetensors, ...
    # the architecture as the run built it (train/cotrain.py build_models); the weights are the checkpoint's
    starts = {"A": config["init"], "B": config.get("init_b") or config["init"]}
    folders = {}
    for index, branch in enumerate(BRANCHES):
        model = build_model(starts[branch], schema, config["scratch_size"], **(config.get("scratch_config") or {}))
        if config.get("ema_decay"):  # AveragedModel's state: the model under "module.", and a counter
            state = torch.load(_custom_state(checkpoint, 1 + index), weights_only=True)
            weights = {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
        else:
            weights = load_file(checkpoint / ("model.safetensors" if index == 0 else f"model_{index}.safetensors"))
        model.load_state_dict(weights)
        folders[branch] = out / f"model_{branch.lower()}"
        save_model(model.eval(), make_processor(config["eval_size"]), folders[branch])
    return folders


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m animeparse.checkpoints",
                                     description="Export the two branches of a training checkpoint (checkpoints/step-N).")
    parser.add_argument("checkpoint", type=Path, help="a run's checkpoints/step-NNNNNNNN folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for model_a/ and model_b/")
    args = parser.parse_args()
    for branch, folder in export_checkpoint(args.checkpoint, args.out).items():
        print(f"branch {branch}: {folder}")
