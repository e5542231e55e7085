"""A real tiny GGUF for the chat screen's tests, converted once from the session's tiny base."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_gguf(tiny_base_dir, tmp_path_factory):
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("tui-gguf") / "tiny-f16.gguf", "f16")
