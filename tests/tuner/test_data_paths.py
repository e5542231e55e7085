"""--data arguments: files become absolute paths, and the datasets shipped with hearth keep their `builtin:` names."""

from __future__ import annotations

from tuner.data import absolute_data_path
from tuner.prepare import data_files
from tuner.recipe import load_recipe


def test_a_relative_file_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_data_path("chats.jsonl") == str(tmp_path / "chats.jsonl")


def test_a_builtin_dataset_is_kept_by_name_and_resolves_like_a_recipes_own():
    assert absolute_data_path("builtin:tarot-sample-en") == "builtin:tarot-sample-en"
    recipe = load_recipe("smollm2-cpu")
    recipe.data.files = [absolute_data_path(name) for name in ("builtin:linzhi-en", "builtin:tarot-sample-en")]
    files = data_files(recipe)
    assert [f.rsplit("/", 1)[-1] for f in map(str, files)] == ["dialogues.en.jsonl", "readings-sample-en.jsonl"]
