"""Preference files → the rows DPO and KTO train on, rendered the way chat renders them.

A row's prompt (the persona card, the history, the user's turn) is rendered once, in hearth's chat-template sandbox
(tuner/chat_render.py) with the generation prompt: the very text chat and the GGUF see at inference, and what the SFT
data trains on. Each reply is what the template adds after that prompt, cut after the end-of-turn token, so the model
learns to stop as the SFT data teaches it. TRL receives plain text (its "standard" format) and never renders a
template itself (transformers' rendering has no time or size limit, and a base model's template is a stranger's code).

A DPO row is `{prompt, chosen, rejected}`; a KTO row is `{prompt, completion, label}` (a pair gives two: the chosen
reply desirable, the rejected one not). Rows that cannot train are rejected with file:line and why; none is repaired.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth.errors import UserError
from tuner.chat_render import render_chat
from tuner.data import LoadedData, Rejected
from tuner.data_report import PreferenceReport
from tuner.formats import RowError, check_formats_for_method
from tuner.masking import end_of_turn_token
from tuner.prepare import data_language, split_heldout, with_system_prompt
from tuner.recipe import Recipe


@dataclass
class RenderedRow:
    prompt: str  # the rendered conversation up to the reply, generation prompt included
    messages: list[dict]  # the same prompt as chat messages
    replies: list[tuple[str, bool]]  # (rendered reply ending with the end-of-turn token, desirable?)
    desirable_reply: str | None  # the desirable reply's text, for the held-out conversations eval answers
    paired: bool


@dataclass
class PreferenceData:
    train_rows: list[dict]
    eval_rows: list[dict]
    heldout_messages: list[list[dict]]  # prompt + desirable reply: what `hearth eval` scores and answers
    report: PreferenceReport


def _chat_messages(items: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in items]


def rendered_reply(tokenizer, prompt_text: str, prompt: list[dict], reply: str, eot: str) -> str:
    """What the template adds after the prompt for `reply`, up to and including the end-of-turn token."""
    full = render_chat(tokenizer, prompt + [{"role": "assistant", "content": reply}])
    if not full.startswith(prompt_text):
        raise RowError("the chat template renders the conversation before the reply differently once a reply "
                       "follows, so the reply cannot be cut out of it")
    completion = full[len(prompt_text):]
    end = completion.rfind(eot)
    if end < 0:
        raise RowError(f"the chat template does not end the reply with the end-of-turn token {eot!r}")
    return completion[: end + len(eot)]


def without_template_bos(tokenizer, text: str) -> str:
    """The text as TRL should tokenize it: the tokenizer adds its own BOS, so a template's BOS would be doubled."""
    bos = tokenizer.bos_token
    adds_bos = bool(bos) and tokenizer("").input_ids[:1] == [tokenizer.bos_token_id]
    return text[len(bos):] if adds_bos and text.startswith(bos) else text


def render_row(row: dict, tokenizer, recipe: Recipe, eot: str) -> RenderedRow:
    prompt = with_system_prompt(_chat_messages(row["prompt"]), recipe.data.system_prompt)
    prompt_text = render_chat(tokenizer, prompt, add_generation_prompt=True)
    if len(tokenizer(without_template_bos(tokenizer, prompt_text)).input_ids) >= recipe.data.max_length:
        raise RowError(f"the prompt alone fills data.max_length={recipe.data.max_length} tokens, leaving no room "
                       "for the reply; raise data.max_length or shorten the history")
    paired = "rejected" in row
    if paired:
        labelled = [(row["chosen"][0]["content"], True), (row["rejected"][0]["content"], False)]
    else:
        labelled = [(row["completion"][0]["content"], bool(row["label"]))]
    replies = [(rendered_reply(tokenizer, prompt_text, prompt, text, eot), label) for text, label in labelled]
    desirable = next((text for text, label in labelled if label), None)
    return RenderedRow(without_template_bos(tokenizer, prompt_text), prompt, replies, desirable, paired)


def dpo_rows(row: RenderedRow) -> list[dict]:
    (chosen, _), (rejected, _) = row.replies
    return [{"prompt": row.prompt, "chosen": chosen, "rejected": rejected}]


def kto_rows(row: RenderedRow) -> list[dict]:
    return [{"prompt": row.prompt, "completion": text, "label": label} for text, label in row.replies]


TRAINING_ROWS = {"dpo": dpo_rows, "kto": kto_rows}  # method -> rendered row -> the trainer's rows


def preference_data(loaded: LoadedData, tokenizer, recipe: Recipe) -> PreferenceData:
    """Render every row; split off the held-out rows (by source row, so a pair's two KTO rows stay together)."""
    method = recipe.train.method
    check_formats_for_method(loaded.formats, method)
    eot = end_of_turn_token(tokenizer)
    rendered, rejected = [], list(loaded.rejected)
    for conversation in loaded.conversations:
        try:
            rendered.append(render_row(conversation.preference_row, tokenizer, recipe, eot))
        except RowError as exc:
            rejected.append(Rejected(conversation.file, conversation.line, str(exc)))
    if not rendered:
        first = f"; first problem: {rejected[0]}" if rejected else ""
        raise UserError(f"no usable preference rows{first}")
    held, kept = split_heldout(rendered, recipe.data)
    to_rows = TRAINING_ROWS[method]
    train_rows = [r for row in kept for r in to_rows(row)]
    eval_rows = [r for row in held for r in to_rows(row)]
    labels = [label for row in rendered for _, label in row.replies]
    report = PreferenceReport(
        files=loaded.formats, rows_kept=len(rendered), rejected=rejected, train_rows=len(train_rows),
        eval_rows=len(eval_rows), max_length=recipe.data.max_length, end_of_turn_token=eot,
        language=data_language([row.messages + [{"role": "assistant", "content": row.desirable_reply}]
                                for row in rendered if row.desirable_reply]),
        method=method, pairs=sum(row.paired for row in rendered), desirable=sum(labels),
        undesirable=len(labels) - sum(labels))
    heldout = [row.messages + [{"role": "assistant", "content": row.desirable_reply}]
               for row in held if row.desirable_reply]
    return PreferenceData(train_rows, eval_rows, heldout, report)
