"""Every dataset format becomes chat `messages`; malformed rows are rejected with file, line and reason."""

import json

import pytest

from hearth.errors import UserError
from tuner.data import load_conversations
from tuner.formats import TAROT_INSTRUCTION


def write_jsonl(path, rows, *, bom=False, crlf=False):
    text = ("\r\n" if crlf else "\n").join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


CASES = {
    "messages": (
        {"messages": [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀！"}]},
        [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀！"}],
    ),
    "sharegpt": (
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}, {"from": "human", "value": "bye"}, {"from": "gpt", "value": "see you"}]},
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}, {"role": "assistant", "content": "see you"}],
    ),
    "alpaca": (
        {"instruction": "翻译成英文", "input": "你好", "output": "Hello"},
        [{"role": "user", "content": "翻译成英文\n\n你好"}, {"role": "assistant", "content": "Hello"}],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_format_becomes_messages(tmp_path, name):
    row, expected = CASES[name]
    loaded = load_conversations([write_jsonl(tmp_path / "d.jsonl", [row])])
    assert loaded.formats[str(tmp_path / "d.jsonl")] == name
    assert loaded.conversations[0].messages == expected


def test_tarot_reading_uses_the_instruction_format(tmp_path):
    row = {"person": "Mel", "question": "2024年运势", "spread": "三张牌", "cards": ["愚人(正位)", {"card": "力量", "reversed": True}, "星币十(正位)"], "reading": "愚人代表新的开始……"}
    messages = load_conversations([write_jsonl(tmp_path / "r.jsonl", [row])]).conversations[0].messages
    assert messages[0]["content"] == TAROT_INSTRUCTION.format(person="Mel", question="2024年运势", spread="三张牌", cards="愚人(正位)、力量(逆位)、星币十(正位)")
    assert messages[0]["content"].startswith("作为专业塔罗师，请为以下咨询提供解读：")
    assert messages[1] == {"role": "assistant", "content": "愚人代表新的开始……"}


MALFORMED = [
    ('{"messages": [{"role": "user", "content": "hi"}]}', "no reply"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]}', "role 'robot'"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}', "no text"),
    ('{"messages": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}]}', "expected user"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}', "not valid JSON"),
    ('["just", "a", "list"]', "must be a JSON object"),
]


@pytest.mark.parametrize("bad,reason", MALFORMED)
def test_malformed_rows_are_rejected_with_file_line_and_reason(tmp_path, bad, reason):
    good = CASES["messages"][0]
    path = write_jsonl(tmp_path / "mixed.jsonl", [good, bad, good])
    loaded = load_conversations([path])
    assert len(loaded.conversations) == 2
    (rejected,) = loaded.rejected
    assert rejected.file == str(path) and rejected.line == 2
    assert reason in rejected.reason


OTHER_MALFORMED = {
    "sharegpt": ({"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "y"}]}, "from 'alien'"),
    "alpaca": ({"instruction": "x", "output": 3}, "'output' must be a string"),
    "tarot": ({"person": "a", "question": "b", "spread": "c", "cards": [], "reading": "d"}, "'cards' must be a non-empty list"),
}


@pytest.mark.parametrize("name", sorted(OTHER_MALFORMED))
def test_malformed_rows_of_other_formats(tmp_path, name):
    good = CASES["alpaca"][0] if name == "alpaca" else CASES["sharegpt"][0] if name == "sharegpt" else {
        "person": "a", "question": "b", "spread": "c", "cards": ["愚人(正位)"], "reading": "d"}
    bad, reason = OTHER_MALFORMED[name]
    loaded = load_conversations([write_jsonl(tmp_path / "d.jsonl", [good, bad])], name)
    (rejected,) = loaded.rejected
    assert rejected.line == 2 and reason in rejected.reason and rejected.reason.startswith(name)


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


def test_bom_crlf_and_chinese_load(tmp_path):
    path = write_jsonl(tmp_path / "bom.jsonl", [CASES["messages"][0], CASES["messages"][0]], bom=True, crlf=True)
    loaded = load_conversations([path])
    assert len(loaded.conversations) == 2 and not loaded.rejected
    assert loaded.conversations[0].messages[1]["content"] == "你好"


def test_json_array_and_hf_dataset_directory(tmp_path):
    from datasets import Dataset

    (tmp_path / "rows.json").write_text(json.dumps([CASES["alpaca"][0]], ensure_ascii=False), encoding="utf-8")
    Dataset.from_list([CASES["sharegpt"][0]]).save_to_disk(str(tmp_path / "hf"))
    loaded = load_conversations([tmp_path / "rows.json", tmp_path / "hf"])
    assert [c.messages[-1]["content"] for c in loaded.conversations] == ["Hello", "see you"]


@pytest.mark.parametrize("setup,message", [
    (lambda d: d / "missing.jsonl", "no such file"),
    (lambda d: write_jsonl(d / "empty.jsonl", []), "no valid rows"),
    (lambda d: _file(d / "latin1.jsonl", '{"x": "caf\xe9"}'.encode("latin-1")), "not UTF-8"),
    (lambda d: _file(d / "data.csv", b"a,b"), "unknown dataset file type"),
])
def test_bad_files_are_one_clear_error(tmp_path, setup, message):
    with pytest.raises(UserError, match=message):
        load_conversations([setup(tmp_path)])


def test_unknown_format_name_is_refused(tmp_path):
    with pytest.raises(UserError, match="unknown data format 'csv'"):
        load_conversations([write_jsonl(tmp_path / "d.jsonl", [CASES["alpaca"][0]])], "csv")


PROMPT = [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": "你好"}]
PAIR = {"prompt": PROMPT, "chosen": [{"role": "assistant", "content": "你好呀，进来坐。"}],
        "rejected": [{"role": "assistant", "content": "嗯。"}]}
UNPAIRED = {"prompt": PROMPT, "completion": [{"role": "assistant", "content": "你好呀，进来坐。"}], "label": False}


@pytest.mark.parametrize("name, row", [("preference", PAIR), ("kto", UNPAIRED)])
def test_preference_formats_are_detected_and_measured_on_the_reply_they_keep(tmp_path, name, row):
    path = write_jsonl(tmp_path / "p.jsonl", [row, row])
    loaded = load_conversations([path])
    assert loaded.formats[str(path)] == name and len(loaded.conversations) == 2
    assert loaded.conversations[0].messages == PROMPT + [{"role": "assistant", "content": "你好呀，进来坐。"}]
    assert load_conversations([path], name).formats[str(path)] == name


@pytest.mark.parametrize("row, reason", [
    ({**PAIR, "rejected": PAIR["chosen"]}, "preference: 'chosen' and 'rejected' are the same reply"),
    ({**PAIR, "prompt": []}, "preference: 'prompt' must be a non-empty list"),
    ({**PAIR, "prompt": PROMPT + PAIR["chosen"]}, "preference: the prompt ends on 'assistant'"),
    ({**PAIR, "chosen": "你好呀"}, "preference: 'chosen' must be one assistant message"),
    ({**PAIR, "rejected": [{"role": "assistant", "content": " "}]}, "preference: 'rejected' has no text"),
    ({**UNPAIRED, "label": 1}, "kto: 'label' must be true or false, got 1"),
    ({**UNPAIRED, "prompt": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]},
     "kto: turn 1 is from assistant"),
], ids=["identical", "empty-prompt", "prompt-ends-on-reply", "chosen-a-string", "empty-rejected", "label-int",
        "prompt-order"])
def test_bad_preference_rows_are_rejected_with_file_line_and_reason(tmp_path, row, reason):
    good = PAIR if "chosen" in row else UNPAIRED
    path = write_jsonl(tmp_path / "p.jsonl", [good, row])
    loaded = load_conversations([path])
    assert len(loaded.rejected) == 1 and str(loaded.rejected[0]).startswith(f"{path}:2: {reason}")


def test_each_method_takes_only_its_formats(tmp_path):
    from tuner.formats import check_formats_for_method

    path = write_jsonl(tmp_path / "p.jsonl", [PAIR])
    check_formats_for_method({"chat.jsonl": "messages"}, "sft")
    check_formats_for_method({"pairs.jsonl": "preference"}, "dpo")
    check_formats_for_method({"pairs.jsonl": "preference", "rated.jsonl": "kto"}, "kto")  # a pair is two rated replies
    with pytest.raises(UserError, match="which SFT does not train on.*--method dpo or kto") as caught:
        check_formats_for_method(load_conversations([path]).formats, "sft")
    assert str(path) in str(caught.value)
    with pytest.raises(UserError, match="which DPO does not train on"):
        check_formats_for_method({"rated.jsonl": "kto"}, "dpo")
    from tuner.runs import RunRequest, checked_recipe

    with pytest.raises(UserError, match="which SFT does not train on"):
        checked_recipe(RunRequest(data=[str(path)]))  # `hearth train` stops before a run exists
