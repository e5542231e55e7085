"""Character cards from strangers: compression bombs in PNG chunks, catastrophic lorebook regexes,
terminal escapes in names. Each ends in one line or a clean warning, in seconds and little memory."""

from __future__ import annotations

import base64
import json
import struct
import zlib

from hostile_run import hearth

from personas import png
from personas.avatar import default_avatar
from personas.card import Card, load_card
from personas.prompt import render_persona
from tui.cli import main

CATASTROPHIC_KEY = "/(a|a)+$/"  # exponential backtracking on "aaaa…!"
TRAP_TEXT = "a" * 40 + "!"
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\r"  # clear screen, set title, bell, C1 CSI, carriage return
BIDI = "\u202e\u2066"  # right-to-left override, left-to-right isolate


def zlib_bomb(megabytes: int) -> bytes:
    """A valid zlib stream of `megabytes` MB of zeros, about 1 KB per MB, built in well under a second:
    after a full flush every further MB compresses to the same block."""
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9)
    head = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(megabytes):
        adler = zlib.adler32(zeros, adler)
    return head + block * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", adler)  # final empty block, checksum


def card_png(extra_chunks: list[bytes], card: dict | None = None) -> bytes:
    """A portrait with `extra_chunks` before IEND, and a plain tEXt card when `card` is given."""
    texts = {"chara": base64.b64encode(json.dumps(card).encode()).decode()} if card else {}
    blob = png.rewrite_text(default_avatar("x"), remove=set(), add=texts, source="test")
    return blob[:-12] + b"".join(extra_chunks) + blob[-12:]


def small_card(**data) -> dict:
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Mel", "first_mes": "hi", **data}}


def test_a_zlib_bomb_in_the_card_chunk_is_refused_in_one_line_without_unpacking_it(tmp_path, hearth_home):
    path = tmp_path / "bomb.png"
    path.write_bytes(card_png([png.chunk(b"zTXt", b"chara\0\0" + zlib_bomb(600))]))
    assert path.stat().st_size < 1_000_000

    done = hearth(["persona", "import", str(path)], hearth_home, timeout=60)

    line = done.one_line_error()
    assert str(path) in line and "unpacks to more than" in line
    assert done.peak_rss_mb < 300  # the bomb is 600 MB unpacked
    assert not (hearth_home / "personas").exists()


def test_compressed_chunks_that_are_not_the_card_are_never_unpacked(tmp_path, hearth_home):
    headers = {b"zTXt": b"Comment\0\0", b"iTXt": b"Comment\0\x01\0\0\0"}  # keyword, (flag,) method, (language, translation)
    bombs = [png.chunk(kind, headers[kind] + zlib_bomb(200))
             for kind in (b"zTXt", b"iTXt", b"zTXt", b"iTXt")]
    path = tmp_path / "decorated.png"
    path.write_bytes(card_png(bombs, small_card()))

    done = hearth(["persona", "import", str(path)], hearth_home, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.peak_rss_mb < 300  # four 200 MB chunks, none of them the card
    assert (hearth_home / "personas" / "mel.json").is_file()


def test_too_many_chunks_is_one_line(tmp_path):
    path = tmp_path / "confetti.png"
    path.write_bytes(card_png([png.chunk(b"tIME", b"\0" * 7)] * (png.MAX_CHUNKS + 1), small_card()))
    assert main(["persona", "import", str(path)]) == 2


def _control_free(text: str) -> bool:
    return not any(ch in text for ch in "\x1b\x07\x9b\r" + BIDI)


def test_card_names_with_terminal_escapes_and_bidi_overrides_print_clean(tmp_path, capsys):
    name = f"Eve{ESCAPES}{BIDI}lyn"
    path = tmp_path / "eve.json"
    path.write_text(json.dumps(small_card(name=name, description=f"desc{ESCAPES}", first_mes=f"hello{BIDI}")))

    for argv in (["persona", "import", str(path)], ["persona", "list"], ["persona", "show", str(path)],
                 ["persona", "show", str(path), "--prompt"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "Eve" in out and _control_free(out), argv

    card = load_card(path)
    assert card.name == f"Eve[2J]0;owned31m{BIDI}lyn"  # controls gone; bidi kept for right-to-left text
    assert render_persona(card).greeting == f"hello{BIDI}"


def test_a_catastrophic_regex_key_does_not_hang_the_chat(tmp_path, tiny_gguf, hearth_home):
    book = {"entries": [{"keys": [CATASTROPHIC_KEY], "content": "trap", "use_regex": True, "name": "trap"},
                        {"keys": ["lake"], "content": "The lake is cold."}]}
    path = tmp_path / "trap.json"
    path.write_text(json.dumps(small_card(first_mes=TRAP_TEXT, character_book=book)))

    done = hearth(["chat", "--model", str(tiny_gguf), "--persona", str(path), "--max-tokens", "4"], hearth_home,
                  timeout=120, stdin=TRAP_TEXT + "\n")

    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "lorebook key" in line]
    assert len(warnings) == 1 and "(a|a)+$" in warnings[0] and "skipped" in warnings[0]


def test_a_latin_key_glued_to_chinese_text_fires():
    book = {"entries": [{"keys": ["Mel"], "content": "Mel is the innkeeper.", "insertion_order": 1}]}
    prompt = render_persona(Card.from_dict(small_card(character_book=book)))
    assert [hit.content for hit in prompt.lore_hits(["我叫Mel你好"])] == ["Mel is the innkeeper."]
    assert [hit.content for hit in prompt.lore_hits(["メルMelです"])] == ["Mel is the innkeeper."]
    assert [hit.content for hit in prompt.lore_hits(["Melissa came by"])] == []  # still whole words among Latin letters


def test_a_regex_key_too_costly_to_compile_is_refused_at_import(tmp_path, hearth_home):
    book = {"entries": [{"keys": ["(?:(?:a{1000}){1000}){1000}"], "content": "x", "use_regex": True}]}
    path = tmp_path / "heavy.json"
    path.write_text(json.dumps(small_card(character_book=book)))

    line = hearth(["persona", "import", str(path)], hearth_home, timeout=60).one_line_error()
    assert str(path) in line and "too costly" in line
    assert not (hearth_home / "personas").exists()


def test_a_regex_key_broken_by_its_macro_is_skipped_with_one_warning(caplog):
    book = {"entries": [{"keys": ["{{char}}"], "content": "named", "use_regex": True},
                        {"keys": ["lake"], "content": "The lake is cold."}]}
    prompt = render_persona(Card.from_dict(small_card(name="Mel (the bard", character_book=book)))
    for _ in range(3):
        assert [hit.content for hit in prompt.lore_hits(["Mel (the bard by the lake"])] == ["The lake is cold."]
    assert [record.getMessage().count("cannot be used") for record in caplog.records] == [1]
