"""Built-in and imported personas, and `hearth persona list|show|import|export`."""

from __future__ import annotations

import json
import os

import pytest

from hearth.errors import UserError
from personas.card import load_card
from personas.library import BUILTIN_ROOT, find_persona, imported_dir, list_personas
from personas.prompt import render_persona
from tui.cli import main


def test_builtin_linzhi_is_listed_and_found_by_folder_or_character_name():
    entry = next(e for e in list_personas() if e.name == "linzhi")
    assert entry.source == "builtin" and entry.character == "林栀"
    assert find_persona("linzhi") == find_persona("林栀")
    prompt = render_persona(find_persona("林栀"))
    assert "林栀" in prompt.system and "{{" not in prompt.system
    assert prompt.greeting and prompt.examples


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UserError) as caught:
        find_persona("nobody-here")
    assert "nobody-here" in str(caught.value) and "linzhi (林栀)" in str(caught.value)


def test_a_card_path_is_accepted(tmp_path, v2_dict):
    path = tmp_path / "aqua.json"
    path.write_text(json.dumps(v2_dict), encoding="utf-8")
    assert find_persona(str(path)).name == "Aqua"
    with pytest.raises(UserError, match="no such card file"):
        find_persona(str(tmp_path / "missing.png"))


def test_import_then_find_list_show_and_export(tmp_path, capsys, v2_dict, png_with_texts, encode):
    card_png = tmp_path / "aqua.png"
    card_png.write_bytes(png_with_texts({"chara": encode(v2_dict)}))
    assert main(["persona", "import", str(card_png)]) == 0
    assert "imported Aqua as 'aqua'" in capsys.readouterr().out
    assert sorted(p.name for p in imported_dir().iterdir()) == ["aqua.json", "aqua.png"]

    assert [e.name for e in list_personas() if e.source == "imported"] == ["aqua"]
    assert find_persona("Aqua").to_dict() == v2_dict
    assert main(["persona", "list"]) == 0
    listing = capsys.readouterr().out
    assert "linzhi" in listing and "aqua" in listing and "imported" in listing

    assert main(["persona", "show", "aqua"]) == 0
    shown = capsys.readouterr().out
    assert "water spirit" in shown and "lorebook" in shown
    assert main(["persona", "show", "aqua", "--prompt", "--user", "Sam"]) == 0
    assert "talks to Sam" in capsys.readouterr().out

    out_png = tmp_path / "exported.png"
    assert main(["persona", "export", "aqua", str(out_png)]) == 0
    exported = load_card(out_png)
    assert exported.to_dict("v2") == v2_dict
    assert exported.image == load_card(card_png).image  # the imported portrait travels with it

    out_json = tmp_path / "exported.json"
    assert main(["persona", "export", "aqua", str(out_json), "--spec", "v3"]) == 0
    assert json.loads(out_json.read_text(encoding="utf-8"))["spec"] == "chara_card_v3"


def test_import_refuses_duplicates_unless_replaced(tmp_path, capsys, v2_dict):
    path = tmp_path / "aqua.json"
    path.write_text(json.dumps(v2_dict), encoding="utf-8")
    assert main(["persona", "import", str(path)]) == 0
    v2_dict["data"]["description"] = "changed"
    path.write_text(json.dumps(v2_dict), encoding="utf-8")
    assert main(["persona", "import", str(path)]) == 2
    assert "already imported" in capsys.readouterr().err
    assert find_persona("aqua").description != "changed"
    assert main(["persona", "import", str(path), "--replace"]) == 0
    assert find_persona("aqua").description == "changed"
    assert main(["persona", "import", str(path), "--as", "Lake Girl"]) == 0
    assert find_persona("lake-girl").name == "Aqua"


def test_import_refuses_a_builtin_name(tmp_path, capsys):
    linzhi = str(BUILTIN_ROOT / "linzhi" / "card.json")
    assert main(["persona", "import", linzhi]) == 2
    assert "built-in persona linzhi" in capsys.readouterr().err
    assert main(["persona", "import", linzhi, "--as", "linzhi-copy"]) == 0


MALFORMED = {
    "bad base64": lambda png_with_texts, encode: png_with_texts({"chara": "%%%not-base64%%%"}),
    "not JSON": lambda png_with_texts, encode: b"{this is not json",
    "wrong spec": lambda png_with_texts, encode: json.dumps({"spec": "chara_card_v7", "data": {"name": "x"}}).encode(),
    "PNG with no card": lambda png_with_texts, encode: png_with_texts({"Software": "paint"}),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_import_is_one_error_exit_2_and_nothing_imported(kind, tmp_path, capsys, png_with_texts, encode):
    path = tmp_path / "bad.card"
    path.write_bytes(MALFORMED[kind](png_with_texts, encode))
    assert main(["persona", "import", str(path)]) == 2
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("error: ") and str(path) in error_lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not imported_dir().exists() or os.listdir(imported_dir()) == []


def test_export_to_an_unknown_extension_is_refused(tmp_path, capsys):
    assert main(["persona", "export", "linzhi", str(tmp_path / "card.yaml")]) == 2
    assert ".png or .json" in capsys.readouterr().err
    assert not (tmp_path / "card.yaml").exists()


def test_a_damaged_import_does_not_hide_the_others(tmp_path, capsys, v2_dict):
    path = tmp_path / "aqua.json"
    path.write_text(json.dumps(v2_dict), encoding="utf-8")
    assert main(["persona", "import", str(path)]) == 0
    (imported_dir() / "aqua.json").write_text("{broken", encoding="utf-8")
    assert find_persona("linzhi").name == "林栀"
    assert main(["persona", "list"]) == 0
    assert "unreadable" in capsys.readouterr().out
    with pytest.raises(UserError, match="not valid JSON"):
        find_persona("aqua")


def test_builtin_dialogues_are_chat_conversations():
    entry = next(e for e in list_personas() if e.name == "linzhi")
    lines = entry.dialogues.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        roles = [message["role"] for message in json.loads(line)["messages"]]
        assert set(roles) <= {"system", "user", "assistant"} and "assistant" in roles
