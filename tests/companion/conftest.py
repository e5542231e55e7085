"""GGUF models for the companion's tests, built once per session from the tiny base:

- `random_gguf`: the untrained tiny base; it rambles and rarely stops, good for cancel and limits.
- `scripted_gguf`: the tiny base taught to answer every message with SCRIPTED_REPLY and then
  `<|im_end|>` (scripted_model.py), so stopping and the `<think>` split are deterministic.
"""

from __future__ import annotations

import shutil

import pytest
from scripted_model import teach_fixed_reply


@pytest.fixture(scope="session")
def random_gguf(tiny_base_dir, tmp_path_factory):
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("gguf-random") / "tiny-random-f16.gguf")


@pytest.fixture(scope="session")
def scripted_gguf(tiny_base_dir, tmp_path_factory):
    from exporter.convert import convert_hf_to_gguf

    work = tmp_path_factory.mktemp("scripted")
    shutil.copytree(tiny_base_dir, work / "base")
    teach_fixed_reply(work / "base", work / "taught")
    return convert_hf_to_gguf(work / "taught", work / "tiny-scripted-f16.gguf")


@pytest.fixture
def engine_factory():
    """Make engines that are closed after the test."""
    from companion.engine import Engine
    from companion.settings import EngineSettings

    made = []

    def make(model_path, **settings):
        defaults = dict(n_ctx=1024, n_threads=1, temperature=0.0, max_reply_tokens=64, seed=1)
        engine = Engine(EngineSettings(model_path=model_path, **{**defaults, **settings}))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
