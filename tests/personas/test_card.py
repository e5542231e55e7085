"""Character Card V1/V2/V3 JSON: every field read, unknown keys kept, bad cards refused."""

from __future__ import annotations

import json

import pytest

from hearth.errors import UserError
from personas.card import Card, card_from_bytes, load_card, save_card


def test_v2_json_round_trip_keeps_every_known_and_unknown_key(tmp_path, v2_dict):
    source = tmp_path / "aqua.json"
    source.write_text(json.dumps(v2_dict), encoding="utf-8")
    card = load_card(source)
    assert card.name == "Aqua" and card.spec == "chara_card_v2"
    assert card.alternate_greetings == ["Yo {{user}}!", "Welcome back."]
    assert card.character_book.entries[0].keys == ["lake"]
    assert card.to_dict() == v2_dict  # nothing added, nothing lost

    out = tmp_path / "again.json"
    save_card(card, out)
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again == v2_dict
    assert again["data"]["extensions"]["unknown_app"] == {"nested": [1, {"a": None}]}
    assert again["data"]["character_book"]["entries"][0]["x_entry_unknown"] == "e"
    assert load_card(out) == card


def test_v3_fields_are_read_and_written_only_in_the_v3_shape(v3_dict):
    card = Card.from_dict(v3_dict)
    assert card.spec == "chara_card_v3"
    assert card.nickname == "Aqua-chan" and card.group_only_greetings == ["Hello everyone"]
    assert card.display_name == "Aqua-chan"
    assert card.to_dict() == v3_dict
    as_v2 = card.to_dict("v2")
    assert as_v2["spec"] == "chara_card_v2" and as_v2["spec_version"] == "2.0"
    assert "nickname" not in as_v2["data"] and "group_only_greetings" not in as_v2["data"]
    assert "use_regex" not in as_v2["data"]["character_book"]["entries"][0]
    assert as_v2["data"]["extensions"] == v3_dict["data"]["extensions"]


def test_v2_card_written_as_v3_gets_the_required_v3_fields(v2_dict):
    as_v3 = Card.from_dict(v2_dict).to_dict("v3")
    assert as_v3["spec"] == "chara_card_v3" and as_v3["spec_version"] == "3.0"
    assert as_v3["data"]["group_only_greetings"] == []
    assert as_v3["data"]["character_book"]["entries"][0]["use_regex"] is False


def test_missing_strings_default_to_empty_and_v1_mirrors_are_dropped():
    card = Card.from_dict(
        {"spec": "chara_card_v2", "data": {"name": "Bo", "creator_notes": None}, "name": "stale", "chat": "keep"}
    )
    assert card.description == "" and card.creator_notes == "" and card.alternate_greetings == []
    assert card.to_dict()["data"]["description"] == ""
    assert card.unknown_top == {"chat": "keep"}


@pytest.mark.parametrize(
    "flat",
    [
        {"name": "Old", "description": "d", "personality": "p", "scenario": "s", "first_mes": "f", "mes_example": "m"},
        {"char_name": "Old", "char_persona": "d", "personality": "p", "world_scenario": "s",
         "char_greeting": "f", "example_dialogue": "m"},
    ],
)
def test_v1_flat_cards_are_upgraded(flat):
    card = Card.from_dict({**flat, "avatar": "none", "talkativeness": "0.5"})
    assert card.spec == "chara_card_v2"
    assert (card.name, card.description, card.personality, card.scenario, card.first_mes, card.mes_example) == (
        "Old", "d", "p", "s", "f", "m")
    out = card.to_dict()
    assert out["spec"] == "chara_card_v2" and out["data"]["name"] == "Old"
    assert out["avatar"] == "none" and out["talkativeness"] == "0.5"  # unknown V1 keys ride along


def test_format_is_recognised_by_content_not_extension(tmp_path, v2_dict, png_with_texts, encode):
    json_named_png = tmp_path / "card.png"
    json_named_png.write_text(json.dumps(v2_dict), encoding="utf-8")
    assert load_card(json_named_png).name == "Aqua"
    png_named_json = tmp_path / "card.json"
    png_named_json.write_bytes(png_with_texts({"chara": encode(v2_dict)}))
    assert load_card(png_named_json).name == "Aqua"


def _error(blob: bytes) -> str:
    with pytest.raises(UserError) as caught:
        card_from_bytes(blob, source="bad.json")
    return str(caught.value)


def test_not_json_is_one_clear_error():
    message = _error(b'{"spec": "chara_card_v2", "data": {')
    assert message.startswith("bad.json: ") and "not valid JSON" in message and "line 1" in message


@pytest.mark.parametrize(
    "card, words",
    [
        ({"spec": "chara_card_v9", "data": {"name": "x"}}, "field 'spec' is \"chara_card_v9\""),
        ({"spec": 2, "data": {"name": "x"}}, "field 'spec' is 2"),
        ({"spec": "chara_card_v2"}, "field 'data' is missing"),
        ({"data": {"name": "x"}}, "no 'spec' field"),
        ({"hello": "world"}, "no 'spec' field and no 'name'"),
        ([1, 2], "not an object"),
        ({"spec": "chara_card_v2", "data": {"name": ""}}, "'data.name' is empty"),
        ({"spec": "chara_card_v2", "data": {"name": "x", "alternate_greetings": "hi"}},
         "'data.alternate_greetings' must be a list of strings"),
        ({"spec": "chara_card_v2", "data": {"name": "x", "extensions": []}}, "'data.extensions' must be a JSON object"),
        ({"spec": "chara_card_v2", "data": {"name": "x", "character_book": {"entries": [{"keys": "k"}]}}},
         "'data.character_book.entries[0].keys' must be a list of strings"),
        ({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": [
            {"keys": ["(unclosed"], "content": "c", "use_regex": True}]}}}, "not a valid regular expression"),
    ],
)
def test_malformed_cards_name_the_field(card, words):
    assert words in _error(json.dumps(card).encode())


def test_binary_that_is_not_a_card_is_refused():
    assert "neither a PNG nor UTF-8 JSON" in _error(b"\xff\xfe\x00garbage\x80")
    assert "CHARX" in _error(b"PK\x03\x04rest-of-zip")


def test_save_refuses_other_extensions_and_writes_nothing(tmp_path, v2_dict):
    with pytest.raises(UserError, match=r"\.png or \.json"):
        save_card(Card.from_dict(v2_dict), tmp_path / "card.txt")
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_card(tmp_path / "nope.json")
