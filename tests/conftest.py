"""Shared fixtures: an isolated HEARTH_HOME per test, and the tiny base model built once per session."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

# Tests never touch the network, and stay on the CPU's two cores predictably.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch):
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory):
    """The tiny Qwen2 base (no pretraining pass, for speed), built once; copy it before changing it."""
    from tuner.tiny_base import TinyShape, build_tiny_base

    return build_tiny_base(tmp_path_factory.mktemp("tiny-base") / "tiny-qwen2", TinyShape(pretrain_steps=0))


@pytest.fixture
def installed_tiny_base(tiny_base_dir, hearth_home):
    """The tiny base copied into this test's HEARTH_HOME/models, as `hearth base tiny` would leave it."""
    target = hearth_home / "models" / "tiny-qwen2"
    shutil.copytree(tiny_base_dir, target)
    return target
