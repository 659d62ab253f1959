"""The project installs as a package: pyproject.toml declares its dependencies and commands."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_console_scripts_name_callable_mains():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(project["scripts"]) == {"animeparse-predict", "animeparse-build-dataset"}
    for target in project["scripts"].values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_requirements_pin_torch_and_install_the_project():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines == ["torch==2.13.0", "-e ."]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("torch") for d in dependencies) and any(d.startswith("transformers") for d in dependencies)


def test_loading_and_running_a_model_prints_no_torchvision_warning(tiny_model_dir):
    """torchvision cannot be installed beside this torch; the PIL image processor is used by name,
    so neither the app's, the batch command's nor training's imports nor a pipeline warn about it."""
    import subprocess
    import sys

    code = ("import animeparse.inference, animeparse.evaluation, animeparse.transforms, animeparse.onnx_backend\n"
            "from animeparse.model import load_model\n"
            "from transformers import pipeline\n"
            "from PIL import Image\n"
            f"load_model({str(tiny_model_dir)!r})\n"
            f"pipeline('image-segmentation', model={str(tiny_model_dir)!r})(Image.new('RGB', (40, 30)))\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
    assert "torchvision" not in done.stderr
