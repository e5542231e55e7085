"""`hearth history export-preferences`: pairs from edits and chosen alternatives, KTO rows from ratings, each
prompt rendered exactly as the SFT export renders the same chat (and a reading as its tarot training row)."""

from __future__ import annotations

import json

import pytest

from companion.dataset_export import training_messages
from companion.history import HistoryStore
from companion.preferences import collect, label_of
from companion.readings import ReadingStore
from spreads.reading_rows import rated_reading_rows, training_row
from tui.cli import main
from tuner.formats import from_tarot

SYSTEM = "你是林栀，在杭州开了一间茶和绿植的小店。"


def _curated_chat(store: HistoryStore) -> int:
    chat = store.create_chat(persona="林栀", system_prompt=SYSTEM)
    store.add_message(chat, "assistant", "欢迎光临。")  # the greeting: no prompt ends before it
    store.add_message(chat, "user", "一")
    first = store.add_message(chat, "assistant", "旧回答", stats={"finish_reason": "stop"})
    store.add_alternative(first.id, "新回答", stats={"finish_reason": "stop"})
    store.edit_message(first.id, "改好的新回答")
    store.add_message(chat, "user", "二")
    liked = store.add_message(chat, "assistant", "好回答")
    store.rate_message(liked.id, 5)
    store.add_message(chat, "user", "三")
    disliked = store.add_message(chat, "assistant", "坏回答")
    store.rate_message(disliked.id, 1)
    store.add_message(chat, "user", "四")
    store.add_message(chat, "assistant", "一般的回答").id
    store.update_chat(chat, rating=3)  # neither: the unrated last reply gives no row
    return chat


def test_pairs_and_kto_rows_render_the_sft_prompt_of_the_same_chat(tmp_path):
    with HistoryStore(tmp_path / "history.db") as store:
        chat = _curated_chat(store)
        sft = training_messages(SYSTEM, store.messages(chat))
        rows = collect(store)
        store.update_chat(chat, rating=4)
        rated_chat = collect(store)
    assert sft[0] == {"role": "system", "content": SYSTEM} and sft[1]["content"] == "一"
    assert sft[2]["content"] == "改好的新回答"  # SFT trains on the chosen, edited reply
    assert rows.pairs == [
        {"prompt": sft[:2], "chosen": [sft[2]], "rejected": [{"role": "assistant", "content": "新回答"}]},
        {"prompt": sft[:2], "chosen": [sft[2]], "rejected": [{"role": "assistant", "content": "旧回答"}]},
    ]
    assert rows.unpaired == [
        {"prompt": sft[:4], "completion": [sft[4]], "label": True},
        {"prompt": sft[:6], "completion": [sft[6]], "label": False},
    ]
    assert rows.chats == [chat]
    # a rated chat labels each reply without a rating of its own
    assert [(r["completion"][0]["content"], r["label"]) for r in rated_chat.unpaired] == [
        ("改好的新回答", True), ("好回答", True), ("坏回答", False), ("一般的回答", True)]
    assert [label_of(r) for r in (None, 1, 2, 3, 4, 5)] == [None, False, False, None, True, True]


def test_the_command_writes_pairs_and_kto_rows_with_rated_readings(tmp_path, capsys):
    with HistoryStore() as store:
        _curated_chat(store)
        readings = ReadingStore(store)
        cards = [{"position": "现在", "card": "力量", "reversed": True}]
        kept = readings.add(person="Mel", question="我的运势？", spread="单张牌", cards=cards, reading="很好的解读。",
                            context={"language": "zh"})
        readings.rate(kept, 5)
        readings.rate(readings.add(person="Mel", question="工作？", spread="单张牌", cards=cards, reading="一般。"), 3)
        readings.rate(readings.add(person="阿杰", question="感情？", spread="单张牌", cards=cards, reading="差。"), 2)
        expected_prompt = from_tarot(training_row(readings.get(kept)))[:-1]
    out = tmp_path / "prefs.jsonl"
    assert main(["history", "export-preferences", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 pair(s)" in printed and "4 rated row(s) (KTO; 2 from readings)" in printed
    pairs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    unpaired = [json.loads(line) for line in (tmp_path / "prefs.kto.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == 2 and all(set(p) == {"prompt", "chosen", "rejected"} for p in pairs)
    assert [set(r) for r in unpaired] == [{"prompt", "completion", "label"}] * 4
    assert unpaired[2] == {"prompt": expected_prompt, "completion": [{"role": "assistant", "content": "很好的解读。"}],
                           "label": True}
    assert unpaired[3]["label"] is False and unpaired[3]["completion"][0]["content"] == "差。"
    with HistoryStore() as store:
        assert len(rated_reading_rows(ReadingStore(store))) == 2
    from tuner.data import load_conversations

    assert load_conversations([out]).formats == {str(out): "preference"}  # what `hearth data check` reads
    assert load_conversations([tmp_path / "prefs.kto.jsonl"]).formats == {str(tmp_path / "prefs.kto.jsonl"): "kto"}
    assert main(["history", "chats", "1"]) == 0
    shown = capsys.readouterr().out
    assert "reply 2 of 2 · edited" in shown and "rated 5/5" in shown and "rated 1/5" in shown
    kto = tmp_path / "other.jsonl"
    assert main(["history", "export-preferences", str(tmp_path / "p2.jsonl"), "--kto", str(kto), "--no-readings"]) == 0
    assert len(kto.read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("argv, message", [
    (["--chats", "99"], "no chat with id 99"),
    (["--chats", "1,x"], "--chats takes chat ids"),
    (["--kto", "{out}"], "two files"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    with HistoryStore() as store:
        _curated_chat(store)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "prefs.jsonl"
    assert main(["history", "export-preferences", str(out), *[a.format(out=out) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(out.parent.iterdir()) == []  # nothing half-written


def test_an_output_that_is_a_directory_or_no_signal_writes_nothing(tmp_path, capsys):
    with HistoryStore() as store:
        chat = store.create_chat(system_prompt=SYSTEM)
        store.add_message(chat, "user", "你好")
        store.add_message(chat, "assistant", "你好呀")
    folder = tmp_path / "out"
    (folder / "d.jsonl").mkdir(parents=True)
    assert main(["history", "export-preferences", str(folder / "d.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and len(err.strip().splitlines()) == 1
    assert main(["history", "export-preferences", str(folder / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nothing to learn preferences from" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["d.jsonl"]


def test_an_edited_earlier_reply_pairs_over_its_original_as_an_edited_last_one_does(scripted_gguf, engine_factory,
                                                                                  tmp_path):
    from scripted_model import SCRIPTED_ANSWER

    from companion.session import ChatSession

    with HistoryStore(tmp_path / "history.db") as store:
        session = ChatSession(engine_factory(scripted_gguf), store, system_prompt=SYSTEM)
        for text in ("一", "二", "三"):
            session.send(text).consume()
        session.edit_reply("改过的第一个", 1)  # an earlier reply, the way the chat's /edit 1 does it
        session.rate_reply(5, 1)
        session.edit_reply("改过的最后一个")  # and the last, for comparison
        sft = training_messages(SYSTEM, store.messages(session.chat_id))
        rows = collect(store)
    assert [m["content"] for m in sft[1:]] == ["一", "改过的第一个", "二", SCRIPTED_ANSWER, "三", "改过的最后一个"]
    original = [{"role": "assistant", "content": SCRIPTED_ANSWER}]
    assert rows.pairs == [
        {"prompt": sft[:2], "chosen": [sft[2]], "rejected": original},
        {"prompt": sft[:6], "chosen": [sft[6]], "rejected": original},  # its prompt holds the earlier edit
    ]
    assert rows.unpaired == [{"prompt": sft[:2], "completion": [sft[2]], "label": True}]
