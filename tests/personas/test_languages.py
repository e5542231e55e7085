"""A persona in several languages: 林栀's English card beside her Chinese one, found by language or by
the English character's name, and `hearth persona list/show --language`."""

from __future__ import annotations

import json

import pytest

from hearth.language import text_language
from personas.card import Card, load_card
from personas.library import BUILTIN_ROOT, find_entry, find_persona, import_card
from personas.prompt import card_language, render_persona
from tui.cli import main

EN_CARD = BUILTIN_ROOT / "linzhi" / "card.en.json"


def test_the_english_card_validates_and_round_trips():
    card = load_card(EN_CARD)
    assert card.name == "Lin Zhi" and card_language(card) == "en"
    assert Card.from_dict(card.to_dict(), source="again") == card
    assert [e.id for e in card.character_book.entries] == [e.id for e in find_persona("linzhi").character_book.entries]


def test_linzhi_is_one_persona_with_a_card_per_language():
    entry = find_entry("linzhi")
    assert entry.languages == ("zh", "en") and entry.card_path("en") == EN_CARD
    assert find_entry("Lin Zhi") == find_entry("林栀") == entry
    assert find_persona("linzhi").name == "林栀"  # the folder name: her own (Chinese) card
    assert find_persona("linzhi", language="en").name == "Lin Zhi"
    assert find_persona("林栀", language="en").name == "Lin Zhi"
    assert find_persona("Lin Zhi").name == "Lin Zhi"  # the English character's name: the English card
    assert find_persona("Lin Zhi", language="zh").name == "林栀"


def test_the_english_prompt_is_english_all_through():
    prompt = render_persona(find_persona("linzhi", language="en"), user_name="Sam")
    texts = [prompt.system, prompt.greeting, *prompt.alternate_greetings, prompt.post_history]
    texts += [m["content"] for block in prompt.examples for m in block]
    assert all(text_language(text) == "en" and "{{" not in text for text in texts)
    assert "Lin Zhi" in prompt.system and "Sam" in prompt.system
    lore = [hit.content for hit in prompt.lore_hits(["How is Mantou doing?"])]
    assert len(lore) == 1 and "orange tomcat" in lore[0]
    assert prompt.lore_hits(["my education is going fine"]) == []  # English keys match whole words only


def test_a_persona_without_the_language_keeps_its_own_card(tmp_path, v2_dict):
    path = tmp_path / "aqua.json"
    path.write_text(json.dumps(v2_dict), encoding="utf-8")
    entry = import_card(path)
    assert entry.languages == ("en",)
    assert find_persona("aqua", language="zh").name == "Aqua"


def test_a_broken_translation_marks_the_builtin_unreadable(tmp_path, monkeypatch):
    folder = tmp_path / "builtins" / "duo"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text(EN_CARD.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "card.zh.json").write_text("{broken", encoding="utf-8")
    monkeypatch.setattr("personas.library.BUILTIN_ROOT", tmp_path / "builtins")
    entry = find_entry("duo")
    assert entry.problem and "card.zh.json" in entry.problem


def test_persona_list_and_show_name_the_languages(capsys):
    assert main(["persona", "list"]) == 0
    assert "zh, en" in capsys.readouterr().out
    assert main(["persona", "show", "linzhi", "--language", "en"]) == 0
    shown = capsys.readouterr().out
    assert "Half Window" in shown and "Lin Zhi" in shown and "半窗" not in shown
    assert main(["persona", "show", "linzhi", "--language", "en", "--prompt"]) == 0
    assert "between Lin Zhi and User" in capsys.readouterr().out  # the English default name for {{user}}
    assert main(["persona", "show", "linzhi", "--prompt"]) == 0
    assert "林栀和你之间" in capsys.readouterr().out


@pytest.mark.parametrize("language, name", [("en", "Lin Zhi"), ("zh", "林栀")])
def test_persona_export_writes_the_card_in_the_language(tmp_path, capsys, language, name):
    out = tmp_path / f"linzhi-{language}.json"
    assert main(["persona", "export", "linzhi", str(out), "--language", language]) == 0
    assert load_card(out).name == name
