"""Cards inside PNGs: read `chara`/`ccv3` tEXt chunks, write both back, keep the picture."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from PIL import Image

from hearth.errors import UserError
from personas import png
from personas.card import Card, load_card, save_card


def _chunks(blob: bytes) -> list[tuple[bytes, bytes]]:
    return png.iter_chunks(blob, source="test")


def _card_chunks(blob: bytes) -> dict[str, dict]:
    """Card JSON by keyword, decoded with Pillow so the check does not trust our own reader."""
    image = Image.open(io.BytesIO(blob))
    image.load()
    return {k: json.loads(base64.b64decode(v)) for k, v in image.text.items() if k in ("chara", "ccv3")}


def _pixels(blob: bytes) -> list:
    return list(Image.open(io.BytesIO(blob)).convert("RGB").getdata())


def test_v2_png_round_trip(tmp_path, v2_dict, png_with_texts, encode):
    source = tmp_path / "aqua.png"
    source.write_bytes(png_with_texts({"chara": encode(v2_dict)}, color=(200, 30, 40)))
    card = load_card(source)
    assert card.spec == "chara_card_v2" and card.to_dict() == v2_dict

    out = tmp_path / "out.png"
    save_card(card, out)
    written = _card_chunks(out.read_bytes())
    assert written["chara"] == v2_dict  # the V2 chunk is the card, unknown keys and all
    assert written["ccv3"] == card.to_dict("v3")
    assert _pixels(out.read_bytes()) == _pixels(source.read_bytes())  # the portrait is kept

    again = load_card(out)  # readers prefer ccv3, so it comes back as V3 with the same content
    assert again.spec == "chara_card_v3"
    assert again.to_dict("v2") == v2_dict and again.to_dict("v3") == card.to_dict("v3")


def test_v3_png_round_trip(tmp_path, v3_dict, png_with_texts, encode):
    source = tmp_path / "aqua3.png"
    v2_view = Card.from_dict(v3_dict).to_dict("v2")
    source.write_bytes(png_with_texts({"chara": encode(v2_view), "ccv3": encode(v3_dict)}))
    card = load_card(source)
    assert card.nickname == "Aqua-chan" and card.to_dict() == v3_dict

    out = tmp_path / "out.png"
    save_card(card, out)
    assert _card_chunks(out.read_bytes()) == {"chara": v2_view, "ccv3": v3_dict}
    assert load_card(out) == card
    assert load_card(out).to_dict()["data"]["extensions"]["unknown_app"] == {"nested": [1, {"a": None}]}


def test_ccv3_is_preferred_over_chara(tmp_path, v2_dict, v3_dict, png_with_texts, encode):
    v2_dict["data"]["name"] = "Old name"
    path = tmp_path / "both.png"
    path.write_bytes(png_with_texts({"chara": encode(v2_dict), "ccv3": encode(v3_dict)}))
    assert load_card(path).name == "Aqua"


def test_rewriting_replaces_old_card_chunks_and_keeps_other_chunks(tmp_path, v2_dict, png_with_texts, encode):
    path = tmp_path / "old.png"
    path.write_bytes(png_with_texts({"chara": encode({"spec": "chara_card_v2", "data": {"name": "Gone"}}),
                                     "Comment": "made by hand"}))
    card = load_card(path)
    card.name = "Renamed"
    save_card(card, path)
    chunks = _chunks(path.read_bytes())
    keywords = [data.split(b"\0")[0] for kind, data in chunks if kind == b"tEXt"]
    assert sorted(keywords) == [b"Comment", b"ccv3", b"chara"]  # one of each, nothing stale
    assert chunks[-1][0] == b"IEND" and chunks[-2][0] == b"tEXt"  # card chunks sit just before IEND
    assert {c["data"]["name"] for c in _card_chunks(path.read_bytes()).values()} == {"Renamed"}


def test_card_from_json_saved_as_png_gets_a_default_portrait(tmp_path, v2_dict):
    out = tmp_path / "made.png"
    save_card(Card.from_dict(v2_dict), out)
    image = Image.open(out)
    assert image.size == (400, 600)
    assert load_card(out).name == "Aqua"
    save_card(Card.from_dict(v2_dict), tmp_path / "made2.png")
    assert (tmp_path / "made2.png").read_bytes() == out.read_bytes()  # deterministic


def _error(tmp_path, blob: bytes) -> str:
    path = tmp_path / "bad.png"
    path.write_bytes(blob)
    with pytest.raises(UserError) as caught:
        load_card(path)
    assert str(caught.value).startswith(f"{path}: ")
    return str(caught.value)


def test_png_with_no_card(tmp_path, png_with_texts):
    assert "PNG with no character card" in _error(tmp_path, png_with_texts({"Comment": "just a picture"}))


def test_bad_base64(tmp_path, png_with_texts):
    assert "not valid base64" in _error(tmp_path, png_with_texts({"chara": "@@not base64!!"}))


def test_base64_of_something_that_is_not_json(tmp_path, png_with_texts):
    blob = png_with_texts({"chara": base64.b64encode(b"hello, not json").decode()})
    assert "'chara' card is not valid JSON" in _error(tmp_path, blob)


def test_wrong_spec_inside_png(tmp_path, png_with_texts, encode):
    blob = png_with_texts({"ccv3": encode({"spec": "chara_card_v4", "data": {"name": "x"}})})
    assert "field 'spec'" in _error(tmp_path, blob)


def test_damaged_and_truncated_pngs(tmp_path, png_with_texts, encode, v2_dict):
    blob = bytearray(png_with_texts({"chara": encode(v2_dict)}))
    ihdr_crc_at = 8 + 8 + 13
    struct.pack_into(">I", blob, ihdr_crc_at, 0)
    assert "CRC" in _error(tmp_path, bytes(blob))
    assert "truncated" in _error(tmp_path, png_with_texts({"chara": encode(v2_dict)})[:-20])


def test_ztxt_and_itxt_card_chunks_are_read(tmp_path, v2_dict, encode, png_with_texts):
    text = encode(v2_dict).encode()
    plain = png_with_texts({})
    iend = plain[-12:]
    for extra in (png.chunk(b"zTXt", b"chara\0\0" + zlib.compress(text)), png.chunk(b"iTXt", b"ccv3\0\0\0\0\0" + text)):
        (tmp_path / "c.png").write_bytes(plain[:-12] + extra + iend)
        assert load_card(tmp_path / "c.png").name == "Aqua"
