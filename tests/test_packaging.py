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
