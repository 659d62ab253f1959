"""Shared test fixtures: tiny models and settings that keep the suite offline and fast."""

from __future__ import annotations

import os
import socket

# Before any Hugging Face import: never reach the network, never send analytics.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

from pathlib import Path

import pytest
import torch
from transformers import SegformerForSemanticSegmentation

from animeparse.labels import SCHEMA_16, Schema
from animeparse.model import make_processor, save_model, scratch_config

TINY = dict(
    hidden_sizes=[8, 16, 24, 32],
    depths=[1, 1, 1, 1],
    num_attention_heads=[1, 1, 1, 1],
    decoder_hidden_size=32,
)
"""A SegFormer small enough to train for a few steps in a test (a few thousand parameters)."""


def tiny_model(schema: Schema = SCHEMA_16, seed: int = 0) -> SegformerForSemanticSegmentation:
    torch.manual_seed(seed)
    return SegformerForSemanticSegmentation(scratch_config("b0", schema, **TINY))


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for servers the tests start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count_forwards(branches: dict) -> dict[str, int]:
    """Count forward passes of each loaded branch ({"A": (model, processor), ...}) from now on."""
    calls = {name: 0 for name in branches}
    for name, (model, _) in branches.items():
        model.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
    return calls


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny 16-class model (safetensors + processor at 64 px), as training would write it."""
    out = tmp_path_factory.mktemp("tiny_model")
    save_model(tiny_model(), make_processor(64), out)
    return out


@pytest.fixture(scope="session")
def tiny_branch_dirs(tmp_path_factory) -> dict[str, Path]:
    """Two saved tiny 16-class models with different weights: the co-trained branches A and B."""
    dirs = {}
    for seed, name in enumerate(("A", "B")):
        dirs[name] = tmp_path_factory.mktemp(f"tiny_branch_{name.lower()}")
        save_model(tiny_model(seed=seed), make_processor(64), dirs[name])
    return dirs


@pytest.fixture
def hub(tmp_path_factory, monkeypatch):
    """A local Hugging Face Hub (tests/hub_double.py) that every HF client in the test talks to.

    Yields the running ``HubDouble``: ``hub.url``, ``hub.token`` (the fake token it accepts, also in
    HF_TOKEN), ``hub.files(repo_id, repo_type)`` to inspect what was pushed. Subprocesses inherit
    HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET=1 and a temporary HF_HOME.
    """
    from hub_double import HubDouble, point_clients_at

    with HubDouble(tmp_path_factory.mktemp("hub_storage")) as double:
        point_clients_at(double, monkeypatch, tmp_path_factory.mktemp("hf_home"))
        yield double


@pytest.fixture(scope="session")
def onnx_model_dir(tmp_path_factory) -> Path:
    """A tiny model exported to ONNX (onnx/model.onnx and onnx/model_quantized.onnx beside its
    weights). Its weights are drawn wider than training's initialisation so the logits span
    about +-15, like a trained model's, and a tolerance of 1e-3 on them means something."""
    from animeparse.export import export_checkpoint

    torch.manual_seed(0)
    model = SegformerForSemanticSegmentation(scratch_config("b0", SCHEMA_16, **TINY, initializer_range=0.3))
    out = tmp_path_factory.mktemp("onnx_model")
    save_model(model, make_processor(64), out)
    export_checkpoint(out, log=lambda *_: None)
    return out
