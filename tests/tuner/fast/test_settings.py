"""The fast path's settings (tuner/fast/settings.py)."""

from __future__ import annotations

import pytest

from tuner.fast.settings import FastSettings


def test_settings_accept_yaml_booleans_for_switches():
    settings = FastSettings(gradient_checkpointing=False, liger=True, enabled=False, compile=True)
    assert (settings.gradient_checkpointing, settings.liger, settings.enabled, settings.compile) == ("off", "on", "off", "on")
    from hearth.errors import UserError

    with pytest.raises(UserError, match="fast.compile") as refused:
        FastSettings(compile="fast")
    assert "auto, on, off" in str(refused.value)
