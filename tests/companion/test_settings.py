"""Engine settings: YAML with flags as overrides, refused mistakes, a stored chat's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.settings import EngineSettings
from hearth.errors import UserError


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text("n_ctx: 2048\ntemperature: 0.3\nmodel_path: ~/models/x.gguf\n", encoding="utf-8")
    settings = EngineSettings.from_yaml(path).replace(temperature=0.9, n_threads=None)
    assert (settings.n_ctx, settings.temperature, settings.n_threads) == (2048, 0.9, None)
    assert settings.model_path == Path("~/models/x.gguf").expanduser()


@pytest.mark.parametrize(
    "text, message",
    [
        ("n_ctxx: 2048\n", "unknown setting"),
        ("n_ctx: 32\n", "n_ctx must be at least 64"),
        ("max_reply_tokens: 5000\nn_ctx: 4096\n", "smaller than n_ctx"),
        ("- a list\n", "mapping"),
        ("n_ctx: [\n", "not valid YAML"),
    ],
)
def test_mistakes_are_user_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "chat.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        EngineSettings.from_yaml(path)


def test_stored_settings_round_trip_and_ignore_unknown_keys():
    settings = EngineSettings(model_path=Path("/m.gguf"), n_ctx=1024, seed=5)
    stored = {**settings.to_dict(), "a_newer_setting": 1}
    assert EngineSettings.from_dict(stored) == settings


def test_chat_flags_override_the_settings_file(tmp_path, monkeypatch):
    from tui.cli import build_parser
    from tui.engine_flags import engine_settings

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    path = tmp_path / "chat.yaml"
    path.write_text("n_ctx: 2048\ntop_k: 7\n", encoding="utf-8")
    args = build_parser().parse_args(["chat", "--model", str(model), "--settings", str(path), "--ctx", "1024"])
    settings = engine_settings(args)
    assert (settings.n_ctx, settings.top_k, settings.model_path) == (1024, 7, model)
