"""Checks on the data files hearth ships: 林栀's cards (Chinese and English) and dialogues,
the tarot deck, the spread definitions and the sample readings in both languages.

Only the standard library is used, so these run in well under a second and do not
depend on any other part of the project.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "personas" / "linzhi" / "card.json"
CARD_EN = ROOT / "personas" / "linzhi" / "card.en.json"
DIALOGUES = ROOT / "personas" / "linzhi" / "dialogues.jsonl"
DIALOGUES_EN = ROOT / "personas" / "linzhi" / "dialogues.en.jsonl"
DECK = ROOT / "spreads" / "deck.json"
SPREADS = ROOT / "spreads" / "spreads.json"
READINGS = ROOT / "spreads" / "readings-sample.jsonl"
READINGS_EN = ROOT / "spreads" / "readings-sample-en.jsonl"

# How each sample file writes a drawn card: `愚人(正位)`, `The Fool (upright)`; the name is the deck's own
# (zh names and aliases, or the English name).
CARD_RE = {
    "zh": re.compile(r"^(?P<name>.+)\((?P<orientation>正位|逆位)\)$"),
    "en": re.compile(r"^(?P<name>.+) \((?P<orientation>upright|reversed)\)$"),
}
READING_FILES = {"zh": READINGS, "en": READINGS_EN}
DIALOGUE_FILES = (DIALOGUES, DIALOGUES_EN)
# Chinese characters: the English files carry none.
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _load_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - message only
                pytest.fail(f"{path.name} line {number} is not valid JSON: {exc}")
    return rows


@pytest.fixture(scope="module")
def deck():
    return _load_json(DECK)["cards"]


@pytest.fixture(scope="module")
def card_names(deck):
    """Every accepted spelling of a card (its zh name and aliases) -> the card id."""
    names = {}
    for card in deck:
        for name in [card["zh"], *card["aliases"]]:
            assert name not in names, f"deck.json: name {name!r} is used by two cards"
            names[name] = card["id"]
    return names


@pytest.fixture(scope="module")
def names_by_language(card_names, deck):
    return {"zh": card_names, "en": {card["en"]: card["id"] for card in deck}}


@pytest.fixture(scope="module")
def spread_sizes():
    """Every name of a spread (zh, en, id, aliases) -> how many positions it has."""
    sizes = {}
    for spread in _load_json(SPREADS)["spreads"]:
        assert spread["positions"], f"spreads.json: {spread['id']} has no positions"
        for name in [spread["id"], spread["zh"], spread["en"], *spread.get("aliases", [])]:
            sizes[name] = len(spread["positions"])
    return sizes


# --- the persona -----------------------------------------------------------


def test_card_is_a_v2_card_with_the_essentials():
    card = _load_json(CARD)
    assert card["spec"] == "chara_card_v2"
    assert card["spec_version"] == "2.0"
    data = card["data"]
    for field in ("name", "description", "first_mes"):
        assert isinstance(data.get(field), str) and data[field].strip(), f"card.json: data.{field} is empty"
    assert data["name"] == "林栀"
    assert all(isinstance(g, str) and g.strip() for g in data.get("alternate_greetings", []))
    for entry in data.get("character_book", {}).get("entries", []):
        assert entry["keys"] and entry["content"].strip()


def test_english_card_is_the_same_character_with_the_same_lorebook():
    zh, en = _load_json(CARD)["data"], _load_json(CARD_EN)["data"]
    assert _load_json(CARD_EN)["spec"] == "chara_card_v2"
    assert en["name"] == "Lin Zhi" and en["extensions"]["hearth"]["language"] == "en"
    for field in ("description", "personality", "scenario", "first_mes", "mes_example", "system_prompt"):
        assert en[field].strip() and not CJK.search(en[field]), f"card.en.json: data.{field} is empty or not English"
    assert len(en["alternate_greetings"]) == len(zh["alternate_greetings"])
    zh_entries, en_entries = zh["character_book"]["entries"], en["character_book"]["entries"]
    shape = ("id", "insertion_order", "priority", "selective", "position", "constant", "enabled")
    assert [[e[k] for k in shape] for e in en_entries] == [[e[k] for k in shape] for e in zh_entries]
    for entry in en_entries:
        assert entry["keys"] and not any(CJK.search(key) for key in entry["keys"] + entry["secondary_keys"])
        assert entry["content"].strip() and not CJK.search(entry["content"])


@pytest.mark.parametrize("path", DIALOGUE_FILES, ids=lambda p: p.name)
def test_dialogues_are_well_formed_conversations(path):
    rows = _load_jsonl(path)
    assert len(rows) >= 120, f"{path.name} has only {len(rows)} rows"
    for number, row in enumerate(rows, start=1):
        messages = row["messages"]
        where = f"{path.name} row {number}"
        assert messages[0]["role"] == "system", f"{where}: first message is not system"
        turns = messages[1:]
        assert turns, f"{where}: no turns after the system message"
        for index, message in enumerate(turns):
            expected = "user" if index % 2 == 0 else "assistant"
            assert message["role"] == expected, f"{where}: turn {index + 1} should be {expected}"
        assert turns[-1]["role"] == "assistant", f"{where}: does not end with assistant"
        user_turns = sum(1 for m in turns if m["role"] == "user")
        assert 2 <= user_turns <= 6, f"{where}: {user_turns} user turns"
        for message in messages:
            assert isinstance(message["content"], str) and message["content"].strip(), f"{where}: empty content"


# --- the tarot data --------------------------------------------------------


def test_deck_has_78_unique_cards_and_22_majors(deck):
    ids = [card["id"] for card in deck]
    assert len(ids) == 78
    assert len(set(ids)) == 78
    assert sum(1 for card in deck if card["arcana"] == "major") == 22
    for card in deck:
        assert card["upright"].strip() and card["reversed"].strip(), card["id"]


def test_common_variant_spellings_resolve(card_names):
    assert card_names["愚者"] == card_names["愚人"]
    assert card_names["塔"] == card_names["高塔"]
    assert card_names["女教皇"] == card_names["女祭司"]
    assert card_names["金币十"] == card_names["星币十"] == card_names["钱币十"]
    assert card_names["圣杯首牌"] == card_names["圣杯王牌"]
    assert card_names["宝剑皇后"] == card_names["宝剑王后"]
    assert card_names["皇后"] != card_names["圣杯王后"]


def test_english_dialogues_are_english_and_do_not_always_end_on_a_question():
    rows = _load_jsonl(DIALOGUES_EN)
    replies = [m["content"] for row in rows for m in row["messages"] if m["role"] == "assistant"]
    assert not any(CJK.search(m["content"]) for row in rows for m in row["messages"])
    assert sum(reply.rstrip().endswith("?") for reply in replies) < len(replies) / 2
    assert DIALOGUES_EN.stat().st_size < 250_000


@pytest.mark.parametrize("language", sorted(READING_FILES))
def test_sample_readings_use_real_cards_and_fit_their_spread(language, names_by_language, spread_sizes):
    path, card_re, card_names = READING_FILES[language], CARD_RE[language], names_by_language[language]
    rows = _load_jsonl(path)
    assert len(rows) >= 40, f"{path.name} has only {len(rows)} rows"
    assert len({row["spread"] for row in rows}) >= 4, f"{path.name}: too few kinds of spread"
    for number, row in enumerate(rows, start=1):
        where = f"{path.name} row {number}"
        for field in ("person", "question", "spread", "reading"):
            assert isinstance(row[field], str) and row[field].strip(), f"{where}: {field} is empty"
        assert row["spread"] in spread_sizes, f"{where}: unknown spread {row['spread']!r}"
        assert len(row["cards"]) == spread_sizes[row["spread"]], f"{where}: wrong number of cards"
        ids = []
        for text in row["cards"]:
            match = card_re.match(text)
            assert match, f"{where}: card {text!r} is not written like 愚人(正位) / The Fool (upright)"
            name = match.group("name")
            assert name in card_names, f"{where}: {name!r} is not in deck.json"
            ids.append(card_names[name])
        assert len(set(ids)) == len(ids), f"{where}: a card appears twice"
