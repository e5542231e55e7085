"""Which recipe `hearth train` and the train screen take when none is named: the real base's once it is imported."""

from __future__ import annotations

from tuner.packaged_models import packaged_base_dir
from tuner.recipe import builtin_recipes
from tuner.runs import OFFLINE_RECIPE, RECIPES_BY_PACKAGED_BASE, default_recipe


def test_without_an_imported_base_the_offline_recipe_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    assert default_recipe() == OFFLINE_RECIPE == "tiny-offline"


def test_once_the_real_base_is_imported_its_recipe_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    base = packaged_base_dir("smollm2")
    base.mkdir(parents=True)
    (base / "config.json").write_text("{}", encoding="utf-8")
    assert default_recipe() == "smollm2-cpu"


def test_a_half_imported_base_does_not_count(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    packaged_base_dir("smollm2").mkdir(parents=True)  # an import killed before config.json was written
    assert default_recipe() == OFFLINE_RECIPE


def test_every_default_names_a_builtin_recipe():
    assert set(RECIPES_BY_PACKAGED_BASE) | {OFFLINE_RECIPE} <= set(builtin_recipes())
