"""Turn loaded conversations into tokenized train/eval sets with assistant-only labels, and the
data report (`data-report.json`): rows kept and rejected, token-length percentiles, truncations, and
the language the kept rows are written in (chat and tarot pick their card and prompt by it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from importlib import resources

from hearth.errors import UserError
from hearth.language import text_language
from tuner.data import BUILTIN_PREFIX, LoadedData, Rejected
from tuner.data_report import DataReport, LengthStats
from tuner.masking import IGNORE_INDEX, TemplateError, encode_conversation, end_of_turn_token
from tuner.recipe import Recipe

# Datasets shipped with hearth, named in recipes as `builtin:<name>`: name -> (package, file).
BUILTIN_DATASETS = {
    "linzhi": ("personas", "linzhi/dialogues.jsonl"),
    "linzhi-en": ("personas", "linzhi/dialogues.en.jsonl"),
    "tarot-sample": ("spreads", "readings-sample.jsonl"),
    "tarot-sample-en": ("spreads", "readings-sample-en.jsonl"),
}


def data_files(recipe: Recipe) -> list[str]:
    """The recipe's data files, with `builtin:<name>` entries resolved to the bundled files."""
    if not recipe.data.files:
        raise UserError(f"recipe '{recipe.name}' names no data files; pass --data FILE.jsonl")
    return [_resolve_builtin(name) if name.startswith(BUILTIN_PREFIX) else name for name in recipe.data.files]


def _resolve_builtin(entry: str) -> str:
    name = entry.removeprefix(BUILTIN_PREFIX)
    if name not in BUILTIN_DATASETS:
        raise UserError(f"no built-in dataset '{name}'; the built-in ones are "
                        f"{', '.join(BUILTIN_PREFIX + n for n in BUILTIN_DATASETS)}")
    package, file = BUILTIN_DATASETS[name]
    return str(resources.files(package).joinpath(file))


@dataclass
class PreparedData:
    train_rows: list[dict]
    eval_rows: list[dict]
    heldout_messages: list[list[dict]]
    report: DataReport


def with_system_prompt(messages: list[dict], system_prompt: str) -> list[dict]:
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


# The language is told from a sample of the replies (the rows come shuffled): counting every character of
# a large dataset, or of one 50 MB row, in Python took minutes.
LANGUAGE_SAMPLE_CHARS, REPLY_SAMPLE_CHARS = 200_000, 2_000


def data_language(conversations: list[list[dict]]) -> str:
    """"zh" or "en": the language of the replies the model learns (hearth.language decides). Replies
    only, because prompts can be in another language than what is learnt (a fixed tarot instruction)."""
    sample, size = [], 0
    for reply in (m["content"][:REPLY_SAMPLE_CHARS] for messages in conversations for m in messages
                  if m["role"] == "assistant"):
        sample.append(reply)
        size += len(reply)
        if size >= LANGUAGE_SAMPLE_CHARS:
            break
    return text_language(" ".join(sample))


def split_heldout(rows: list, data) -> tuple[list, list]:
    """(held out, trained on): the rows shuffled by `data.seed`, then `data.eval_fraction` of them (at most
    `data.eval_max_rows`, at least one once there are ten) held out. SFT and preference runs split alike."""
    rows = list(rows)
    random.Random(data.seed).shuffle(rows)
    n_eval = min(data.eval_max_rows, int(len(rows) * data.eval_fraction))
    if data.eval_fraction > 0 and len(rows) >= 10:
        n_eval = max(1, n_eval)
    return rows[:n_eval], rows[n_eval:]


def prepare(loaded: LoadedData, tokenizer, recipe: Recipe) -> PreparedData:
    """Tokenize every conversation; split off the eval set; build the report."""
    eot = end_of_turn_token(tokenizer)
    rows, lengths, truncated = [], [], 0
    rejected = list(loaded.rejected)
    for conversation in loaded.conversations:
        messages = with_system_prompt(conversation.messages, recipe.data.system_prompt)
        try:
            encoded = encode_conversation(tokenizer, messages, recipe.data.max_length, eot)
        except TemplateError as exc:
            rejected.append(Rejected(conversation.file, conversation.line, str(exc)))
            continue
        if encoded.assistant_tokens == 0:
            rejected.append(Rejected(conversation.file, conversation.line,
                                     f"no reply left after cutting to data.max_length={recipe.data.max_length} tokens"))
            continue
        lengths.append(len(encoded.input_ids) if not encoded.truncated else recipe.data.max_length)
        truncated += encoded.truncated
        rows.append(({"input_ids": encoded.input_ids, "labels": encoded.labels}, messages))
    if not rows:
        raise UserError(f"no usable conversations after tokenizing; first problem: {rejected[0]}")
    eval_part, train_part = split_heldout(rows, recipe.data)
    report = DataReport(
        files=loaded.formats, rows_kept=len(rows), rejected=rejected, train_rows=len(train_part),
        eval_rows=len(eval_part), max_length=recipe.data.max_length, end_of_turn_token=eot,
        language=data_language([m for _, m in rows]), truncated_rows=truncated, token_length=LengthStats.of(lengths),
        assistant_tokens=sum(sum(1 for t in r["labels"] if t != IGNORE_INDEX) for r, _ in rows))
    return PreparedData([r for r, _ in train_part], [r for r, _ in eval_part], [m for _, m in eval_part], report)
