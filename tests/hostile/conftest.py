"""Fixtures for the hostile-input tests (a real hearth process, bounded: hostile_run.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_gguf(tiny_base_dir, tmp_path_factory):
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("hostile-gguf") / "tiny-f16.gguf")
