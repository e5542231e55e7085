"""Replies to the eval prompts, every side with the same settings and seed: the Hugging Face base and tuned model
(one PEFT model, the adapter switched off for the base), and a GGUF through llama.cpp.

No repetition penalty on any side: repetition is one of the things measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tuner.evaluate.measures import Reply

# A reply's default budget: twice its own reference, within these. Each prompt gets its own, so a tarot reading
# (~175 tokens in the sample readings) is not cut where a chat reply of 30 would be fairly judged, and a chat reply
# in a run that also reads is not given a reading's room to ramble in.
MIN_REPLY_TOKENS, MAX_REPLY_TOKENS = 48, 512


@dataclass(frozen=True)
class Settings:
    max_new_tokens: int  # the largest reply budget: --max-tokens for every reply, else the longest reference's
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    per_reference: bool = False  # each reply's budget is twice its own reference (no --max-tokens)

    def to_json(self) -> dict:
        return asdict(self)


def reply_budget(tokenizer, reference: str) -> int:
    """Room for a reply twice as long as its reference, so 'ends by itself' is a fair question."""
    length = len(tokenizer(reference, add_special_tokens=False)["input_ids"]) if reference else 0
    return max(MIN_REPLY_TOKENS, min(MAX_REPLY_TOKENS, 2 * length))


def reply_budgets(tokenizer, references: list[str], fixed: int | None) -> list[int]:
    """Each reply's budget: `fixed` (--max-tokens) for all, else twice each reference."""
    return [fixed or reply_budget(tokenizer, reference) for reference in references]


def hf_reply(model, tokenizer, messages: list[dict], settings: Settings, eot_id: int, budget: int) -> Reply:
    import torch

    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    device = next(model.parameters()).device
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(device)
    torch.manual_seed(settings.seed)
    sampling = dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p) \
        if settings.temperature > 0 else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=budget, eos_token_id=eot_id,
                             pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot_id,
                             repetition_penalty=1.0, **sampling)
    new = out[0, ids["input_ids"].shape[1]:].tolist()
    stopped = bool(new) and new[-1] == eot_id
    body = new[:-1] if stopped else new
    return Reply(tokenizer.decode(body, skip_special_tokens=False).strip(), stopped, len(new))


def gguf_reply(llm, messages: list[dict], settings: Settings, budget: int) -> Reply:
    from hearth.llama import STOP, native_output

    with native_output():
        out = llm.create_chat_completion(messages=list(messages), max_tokens=budget,
                                         temperature=settings.temperature, top_p=settings.top_p,
                                         repeat_penalty=1.0, seed=settings.seed)
    choice = out["choices"][0]
    return Reply((choice["message"]["content"] or "").strip(), choice["finish_reason"] == STOP,
                 int(out["usage"]["completion_tokens"]))
