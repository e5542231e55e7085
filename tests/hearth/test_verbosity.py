"""--verbose is one switch, read the same way here and in every child job it starts."""

from __future__ import annotations

import subprocess
import sys

from hearth.verbosity import ENV_VAR, set_verbose, verbose


def test_the_switch_is_off_until_set_and_children_inherit_it(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert not verbose()
    set_verbose()
    assert verbose()
    child = subprocess.run([sys.executable, "-c", "from hearth.verbosity import verbose; print(verbose())"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "True"


def test_only_one_means_on(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    assert not verbose()
