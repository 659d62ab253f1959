"""The app as a Space runs it: models named by Hub id in its settings, downloaded from the Hub
(here the local Hub double), with the token a Space holds for private repos."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from conftest import free_port
from gradio_client import Client, handle_file
from huggingface_hub import HfApi
from PIL import Image

from animeparse.labels import SCHEMA_16
from animeparse.branches import ENSEMBLE
from animeparse.inference import load_branches, predict

ROOT = Path(__file__).resolve().parent.parent


def start_app(log: Path, **settings: str) -> tuple[subprocess.Popen, str]:
    """``python app.py`` with ``settings`` in its environment, as a Space starts it."""
    port = free_port()
    env = {**os.environ, **settings, "GRADIO_SERVER_PORT": str(port)}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/"


def wait_until_serving(process: subprocess.Popen, url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app exited with {process.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"app not serving after {timeout} s:\n{log.read_text()}")


def test_app_loads_private_models_by_hub_id(hub, tiny_branch_dirs, tmp_path):
    api = HfApi()
    for name, folder in tiny_branch_dirs.items():
        api.create_repo(f"org/animeparse-{name.lower()}", private=True)
        api.upload_folder(repo_id=f"org/animeparse-{name.lower()}", folder_path=folder)

    log = tmp_path / "app.log"
    process, url = start_app(log, ANIMEPARSE_MODEL_A="org/animeparse-a", ANIMEPARSE_MODEL_B="org/animeparse-b")
    try:
        wait_until_serving(process, url, log)
        rgb = np.random.default_rng(0).integers(0, 256, (44, 60, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / "girl.png")
        label_file, names = Client(url, verbose=False).predict(handle_file(str(tmp_path / "girl.png")), ENSEMBLE, "16", api_name="/parse")
    finally:
        process.terminate()
        process.wait(timeout=30)

    local = load_branches({name: str(path) for name, path in tiny_branch_dirs.items()})
    expected = predict(local, Image.fromarray(rgb), ENSEMBLE).labels(ENSEMBLE, SCHEMA_16)
    np.testing.assert_array_equal(np.asarray(Image.open(label_file)), expected)
    assert names == list(SCHEMA_16.names)
    assert hub.token not in log.read_text()


def test_app_names_a_missing_hub_model(hub, tiny_branch_dirs, tmp_path):
    log = tmp_path / "app.log"
    process, _ = start_app(log, ANIMEPARSE_MODEL_A=str(tiny_branch_dirs["A"]), ANIMEPARSE_MODEL_B="org/no-such-model")
    assert process.wait(timeout=120) == 1
    output = log.read_text()
    assert "cannot load model 'org/no-such-model'" in output and "Pass a Hub id or a local checkpoint folder" in output
    assert "Traceback" not in output
