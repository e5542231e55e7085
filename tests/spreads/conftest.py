"""Fixtures for the tarot reader's tests: the CLI with `tarot` registered, and a tiny GGUF."""

from __future__ import annotations

import pytest


@pytest.fixture
def hearth(monkeypatch):
    """`tui.cli.main` with the tarot commands registered (whether or not cli.py lists them yet)."""
    from tui import cli

    monkeypatch.setitem(cli.COMMAND_MODULES, "tarot", "the tarot reader")
    return cli.main


@pytest.fixture(scope="module")
def tiny_gguf(tiny_base_dir, tmp_path_factory):
    """The untrained tiny Qwen2 base as an f16 GGUF: it writes nonsense, quickly."""
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("tarot-gguf") / "tiny-tarot-f16.gguf", "f16")
