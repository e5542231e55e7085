"""From a card to prompt pieces: macros, system message, examples, greetings, lorebook."""

from __future__ import annotations

import pytest

from personas.card import Card
from personas.macros import expand
from personas.prompt import DEFAULT_SYSTEM_PROMPTS, render_persona


def test_macros_are_case_insensitive_and_cover_every_spelling():
    text = "{{char}} {{CHAR}} {{ Char }} <BOT> <bot> | {{user}} {{User}} <USER> <user>"
    assert expand(text, char="C", user="U") == "C C C C C | U U U U"


def test_original_is_used_once_and_is_empty_elsewhere():
    assert expand("{{original}}+{{ORIGINAL}}", char="C", user="U", original="base") == "base+"
    assert expand("a{{original}}b", char="C", user="U") == "ab"


def test_a_name_that_looks_like_a_macro_is_not_expanded_again():
    assert expand("{{user}} meets {{char}}", char="{{user}}", user="Sam") == "Sam meets {{user}}"


def test_system_message_uses_default_then_description_personality_scenario(v2_dict):
    prompt = render_persona(Card.from_dict(v2_dict), user_name="Sam")
    default = expand(DEFAULT_SYSTEM_PROMPTS["en"], char="Aqua", user="Sam")
    assert prompt.system.startswith(default)
    order = [prompt.system.index(part) for part in (
        "Aqua is a water spirit who talks to Sam.",
        "Aqua's personality: cheerful, Aqua likes Sam",
        "Scenario: Sam meets Aqua at the lake.",
    )]
    assert order == sorted(order)
    for hidden in ("SECRET-CREATOR-NOTE", "SECRET-TAG", "tester", "1.2"):
        assert hidden not in prompt.system
    assert "{{" not in prompt.system and "<BOT>" not in prompt.system


def test_card_system_prompt_replaces_the_default_and_original_brings_it_back(v2_dict):
    v2_dict["data"]["system_prompt"] = "Card rules for {{char}}."
    replaced = render_persona(Card.from_dict(v2_dict), user_name="Sam").system
    assert replaced.startswith("Card rules for Aqua.")
    assert "This is a conversation between" not in replaced

    v2_dict["data"]["system_prompt"] = "{{original}}\nAlso: be brief, {{user}}."
    kept = render_persona(Card.from_dict(v2_dict), user_name="Sam").system
    assert kept.startswith(expand(DEFAULT_SYSTEM_PROMPTS["en"], char="Aqua", user="Sam") + "\nAlso: be brief, Sam.")


def test_original_outside_the_system_prompt_is_dropped(v2_dict):
    v2_dict["data"]["description"] = "{{original}}Plain."
    assert "{{original}}" not in render_persona(Card.from_dict(v2_dict)).system


def test_chinese_cards_get_chinese_section_labels(v2_dict):
    v2_dict["data"].update(name="小雨", personality="安静，喜欢下雨天。", scenario="{{user}}在图书馆遇到{{char}}。",
                           description="{{char}}是图书管理员。")
    system = render_persona(Card.from_dict(v2_dict)).system
    assert "小雨的性格：安静" in system and "场景：你在图书馆遇到小雨。" in system


def test_nickname_replaces_char_in_v3(v3_dict):
    prompt = render_persona(Card.from_dict(v3_dict), user_name="Sam")
    assert prompt.char_name == "Aqua-chan"
    assert prompt.greeting == "Hi Sam, I am Aqua-chan!"


def test_greetings_and_post_history(v2_dict):
    prompt = render_persona(Card.from_dict(v2_dict), user_name="Sam")
    assert prompt.greeting == "Hi Sam, I am Aqua!"
    assert prompt.alternate_greetings == ["Yo Sam!", "Welcome back."]
    assert prompt.post_history == "Stay as Aqua."
    v2_dict["data"]["post_history_instructions"] = ""
    assert render_persona(Card.from_dict(v2_dict)).post_history == ""


def test_example_blocks_become_chat_messages(v2_dict):
    examples = render_persona(Card.from_dict(v2_dict), user_name="Sam").examples
    assert examples == [
        [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Hi!\nI am here."}],
        [{"role": "user", "content": "Again"}, {"role": "assistant", "content": "Again!"}],
    ]


def test_examples_with_literal_names_fullwidth_colons_and_narration(v2_dict):
    v2_dict["data"]["mes_example"] = (
        "<start>\n*The lake is calm.*\n{{USER}}：你好\nAqua: hello {{user}}\n\n  second line\n<START>\n<START>\n"
    )
    examples = render_persona(Card.from_dict(v2_dict), user_name="Sam").examples
    assert examples == [[
        {"role": "assistant", "content": "*The lake is calm.*"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "hello Sam\n\n  second line"},
    ]]


# ---- lorebook --------------------------------------------------------------------------


def _book_card(entries, **book) -> Card:
    return Card.from_dict({"spec": "chara_card_v3", "spec_version": "3.0", "data": {
        "name": "Aqua", "character_book": {"entries": entries, "extensions": {}, **book}}})


def _entry(content, keys, order=0, **more) -> dict:
    return {"keys": keys, "content": content, "extensions": more.pop("extensions", {}), "enabled": True,
            "insertion_order": order, "use_regex": False, **more}


def _lore(card, messages, **kwargs):
    return [hit.content for hit in render_persona(card, user_name="Sam").lore_hits(messages, **kwargs)]


def test_entries_whose_keys_appear_are_inserted_in_insertion_order():
    card = _book_card([
        _entry("about the boat", ["boat"], order=30),
        _entry("about the lake of {{char}}", ["lake"], order=10),
        _entry("about mountains", ["mountain"], order=20),
    ])
    assert _lore(card, ["we row a BOAT on the lake"]) == ["about the lake of Aqua", "about the boat"]
    assert _lore(card, ["nothing here"]) == []


def test_scan_depth_limits_how_far_back_keys_count():
    card = _book_card([_entry("lake lore", ["lake"])], scan_depth=2)
    assert _lore(card, ["the lake", "b", "c"]) == []
    assert _lore(card, ["a", "the lake", "c"]) == ["lake lore"]


def test_constant_disabled_and_case_sensitive_entries():
    card = _book_card([
        _entry("always", ["never-said"], order=1, constant=True),
        _entry("off", ["lake"], order=2, enabled=False),
        _entry("exact", ["Lake"], order=3, case_sensitive=True),
    ])
    assert _lore(card, ["the lake"]) == ["always"]
    assert _lore(card, ["the Lake"]) == ["always", "exact"]


def test_selective_entries_need_their_secondary_keys():
    card = _book_card([
        _entry("and-any", ["lake"], order=1, selective=True, secondary_keys=["swim", "fish"]),
        _entry("not-any", ["lake"], order=2, selective=True, secondary_keys=["storm"],
               extensions={"selectiveLogic": 2}),
    ])
    assert _lore(card, ["the lake"]) == ["not-any"]
    assert _lore(card, ["swim in the lake"]) == ["and-any", "not-any"]
    assert _lore(card, ["swim in the lake in a storm"]) == ["and-any"]


def test_latin_keys_match_whole_words_and_cjk_keys_match_anywhere():
    card = _book_card([_entry("cat lore", ["cat"], order=1), _entry("猫", ["橘猫"], order=2)])
    assert _lore(card, ["an education"]) == []
    assert _lore(card, ["my cat, a 胖橘猫咪"]) == ["cat lore", "猫"]


def test_regex_keys():
    card = _book_card([_entry("regex hit", ["/l[ae]ke?s?/i"], use_regex=True)])
    assert _lore(card, ["LAKES everywhere"]) == ["regex hit"]


def test_budget_keeps_constant_then_higher_priority():
    card = _book_card([
        _entry("A" * 40, ["lake"], order=1, priority=1),
        _entry("B" * 40, ["lake"], order=2, priority=9),
        _entry("C" * 40, ["x"], order=3, constant=True),
    ], token_budget=20)
    assert _lore(card, ["lake"]) == ["B" * 40, "C" * 40]  # 10 tokens each: C (constant), then B
    assert _lore(card, ["lake"], budget=100) == ["A" * 40, "B" * 40, "C" * 40]
    assert _lore(card, ["lake"], budget=100, count_tokens=len) == ["B" * 40, "C" * 40]


def test_recursive_scanning_lets_lore_trigger_lore():
    entries = [_entry("the boat sits by the lake", ["boat"], order=1), _entry("lake lore", ["lake"], order=2)]
    assert _lore(_book_card(entries), ["a boat"]) == ["the boat sits by the lake"]
    assert _lore(_book_card(entries, recursive_scanning=True), ["a boat"]) == ["the boat sits by the lake", "lake lore"]


def test_decorator_lines_are_not_sent_to_the_model():
    card = _book_card([_entry("@@depth 4\n@@role system\nreal text", ["lake"])])
    assert _lore(card, ["lake"]) == ["real text"]


def test_card_without_a_lorebook_inserts_nothing(v2_dict):
    del v2_dict["data"]["character_book"]
    assert _lore(Card.from_dict(v2_dict), ["lake"]) == []


@pytest.mark.parametrize("position", ["before_char", "after_char"])
def test_lore_hits_carry_their_position(position):
    card = _book_card([_entry("x", ["lake"], position=position)])
    assert [hit.position for hit in render_persona(card).lore_hits(["lake"])] == [position]


def test_triggered_lore_sits_in_the_system_prompt_around_the_definitions_as_the_card_spec_places_it(v2_dict):
    """before_char entries between the instruction and the description, after_char ones after the scenario."""
    v2_dict["data"]["character_book"]["entries"] = [
        _entry("LORE-AFTER", ["lake"], order=1, position="after_char"),
        _entry("LORE-BEFORE", ["lake"], order=2, position="before_char"),
        _entry("LORE-UNPLACED", ["boat"], order=3),
    ]
    prompt = render_persona(Card.from_dict(v2_dict), user_name="Sam")
    system = prompt.system_with_lore(prompt.lore_hits(["the lake", "a boat"]))
    default = expand(DEFAULT_SYSTEM_PROMPTS["en"], char="Aqua", user="Sam")
    order = [system.index(part) for part in (default, "LORE-BEFORE", "LORE-UNPLACED", "Aqua is a water spirit",
                                             "Scenario: Sam meets Aqua", "LORE-AFTER")]
    assert order == sorted(order)
    assert prompt.system_with_lore([]) == prompt.system and "LORE" not in prompt.system


def test_the_default_prompt_is_in_the_cards_language(v2_dict):
    """An English card gets no Chinese sentence (an English-only base answers that in pseudo-Chinese), and back."""
    english = render_persona(Card.from_dict(v2_dict), user_name="Sam").system
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english)
    v2_dict["data"].update(description="{{char}}是湖里的水精灵。", personality="开朗", scenario="在湖边相遇。")
    chinese = render_persona(Card.from_dict(v2_dict), user_name="Sam").system
    assert chinese.startswith("以下是Aqua和Sam之间的对话") and "This is a conversation" not in chinese
