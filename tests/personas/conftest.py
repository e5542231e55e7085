"""Cards built inside the tests: a full V2 card with keys no spec knows, and PNG helpers."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
from PIL import Image

from personas import png

FULL_V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "x_top_level": {"kept": True},
    "data": {
        "name": "Aqua",
        "description": "{{char}} is a water spirit who talks to {{user}}.",
        "personality": "cheerful, <BOT> likes <USER>",
        "scenario": "{{user}} meets {{char}} at the lake.",
        "first_mes": "Hi {{user}}, I am {{char}}!",
        "mes_example": "<START>\n{{user}}: Hello?\n{{char}}: Hi!\nI am here.\n<START>\n<USER>: Again\n<BOT>: Again!",
        "creator_notes": "SECRET-CREATOR-NOTE",
        "system_prompt": "",
        "post_history_instructions": "Stay as {{char}}.",
        "alternate_greetings": ["Yo {{user}}!", "Welcome back."],
        "character_book": {
            "name": "lake lore",
            "scan_depth": 2,
            "token_budget": 100,
            "extensions": {"book_ext": 1},
            "x_book_unknown": "b",
            "entries": [
                {
                    "keys": ["lake"],
                    "content": "The lake is cold.",
                    "extensions": {"entry_ext": [1, 2]},
                    "enabled": True,
                    "insertion_order": 5,
                    "x_entry_unknown": "e",
                }
            ],
        },
        "tags": ["fantasy", "SECRET-TAG"],
        "creator": "tester",
        "character_version": "1.2",
        "extensions": {"depth_prompt": {"prompt": "x", "depth": 4}, "unknown_app": {"nested": [1, {"a": None}]}},
        "x_data_unknown": 42,
    },
}


@pytest.fixture(autouse=True)
def _own_hearth_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))


@pytest.fixture
def v2_dict() -> dict:
    return copy.deepcopy(FULL_V2)


@pytest.fixture
def v3_dict() -> dict:
    card = copy.deepcopy(FULL_V2)
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].update(
        nickname="Aqua-chan",
        group_only_greetings=["Hello everyone"],
        creation_date=1700000000,
        modification_date=1700000500,
        source=["https://example.invalid/aqua"],
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        creator_notes_multilingual={"zh": "备注"},
    )
    card["data"]["character_book"]["entries"][0]["use_regex"] = False
    return card


def portrait_png(color=(10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_card(card: dict) -> str:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")


@pytest.fixture
def png_with_texts():
    """PNG bytes of a small portrait carrying the given tEXt chunks (keyword -> text)."""

    def build(texts: dict[str, str], color=(10, 120, 200)) -> bytes:
        return png.rewrite_text(portrait_png(color), remove=set(), add=texts, source="test")

    return build


@pytest.fixture
def encode():
    return encode_card
