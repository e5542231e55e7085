"""Tokenize a conversation with its chat template and mark which tokens the loss sees.

Loss is on assistant replies only, each with the template's end-of-turn token, for any template —
including Qwen2.5's and R1-Distill's, which have no `{% generation %}` markers. We render the whole
conversation once, find each reply's characters in the rendered text (walking forward message by
message so a reply that echoes the user is not matched in the user's turn), extend each span through
the end-of-turn token that follows it, and label the tokens that start inside a span.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner.chat_render import render_chat

# The label of a token that is not learned: PyTorch's cross-entropy skips it (its ignore_index default). The one
# definition; the fast path's packing and loss use it too.
IGNORE_INDEX = -100
# A rendered conversation longer than this many characters per token of max_length is cut before it is
# tokenized: far more than any tokenizer packs into one token, so the cut never shortens what max_length
# keeps; it spares the tokenizer a text thousands of times too long (one 50 MB row took 14 GB and minutes).
CHARS_PER_TOKEN_BOUND = 32
_PROBE_USER, _PROBE_REPLY = "hearthprobeuser", "hearthprobereply"


class TemplateError(ValueError):
    """The chat template hides or rewrites a reply so its tokens cannot be found."""


def end_of_turn_token(tokenizer) -> str:
    """The token the chat template writes right after an assistant reply (`<|im_end|>` for ChatML)."""
    probe = [{"role": "user", "content": _PROBE_USER}, {"role": "assistant", "content": _PROBE_REPLY}]
    text = render_chat(tokenizer, probe)
    after = text[text.index(_PROBE_REPLY) + len(_PROBE_REPLY):]
    specials = sorted(set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab()), key=len, reverse=True)
    positions = [(after.find(tok), tok) for tok in specials if tok and tok in after]
    if positions:
        return min(positions)[1]
    if tokenizer.eos_token:
        return tokenizer.eos_token
    raise TemplateError("the chat template ends an assistant turn with no special token and the tokenizer has no eos")


def _reply_variants(content: str) -> list[str]:
    """How a template may print a reply: as is, stripped, or without a leading reasoning block."""
    variants = [content, content.strip()]
    if "</think>" in content:
        variants.append(content.split("</think>")[-1].strip())
    return [v for v in variants if v]


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool

    @property
    def assistant_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def assistant_char_spans(text: str, messages: list[dict], eot: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for message in messages:
        content = message["content"]
        found = next(((text.find(v, cursor), v) for v in _reply_variants(content) if text.find(v, cursor) >= 0), None)
        if message["role"] != "assistant":
            if found:  # templates may rewrite system/user text; only advance when we see it
                cursor = found[0] + len(found[1])
            continue
        if found is None:
            raise TemplateError("the chat template does not print an assistant reply as written")
        start, end = found[0], found[0] + len(found[1])
        eot_at = text.find(eot, end)
        if eot_at < 0:
            raise TemplateError(f"the chat template does not end an assistant reply with {eot!r}")
        spans.append((start, eot_at + len(eot)))
        cursor = eot_at + len(eot)
    return spans


def encode_conversation(tokenizer, messages: list[dict], max_length: int | None = None, eot: str | None = None) -> Encoded:
    """input_ids for the rendered conversation; labels = ids on assistant replies + end-of-turn, else -100."""
    eot = eot or end_of_turn_token(tokenizer)
    text = render_chat(tokenizer, messages)
    spans = assistant_char_spans(text, messages, eot)
    cut = max_length is not None and len(text) > max_length * CHARS_PER_TOKEN_BOUND
    if cut:
        text = text[: max_length * CHARS_PER_TOKEN_BOUND]  # spans past the cut label nothing
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    labels = [IGNORE_INDEX] * len(ids)
    span_index = 0
    for i, (start, _end) in enumerate(offsets):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index < len(spans) and spans[span_index][0] <= start < spans[span_index][1]:
            labels[i] = ids[i]
    truncated = max_length is not None and (cut or len(ids) > max_length)
    if truncated:
        ids, labels = ids[:max_length], labels[:max_length]
    return Encoded(ids, labels, truncated)
