"""The second verdict of an export: how the trained model itself behaves, apart from whether the GGUF is faithful.

On the stop check's prompt the Hugging Face model answers greedily too. Whether it and the GGUF agree on
stopping is fidelity (verify.py); what the trained model's own reply does — never ends its turn, goes round in
circles, says it is the base model or an AI assistant, writes the user's turn — is reported here as warnings,
each with what to change. A faithful file of a model that behaves badly still exports: the file is right, the
training is what to fix (`hearth eval RUN` measures it on more prompts).
"""

from __future__ import annotations

from typing import Callable

from hearth.behaviour import identity_slips, loops, user_turn_lines
from hearth.llama import LENGTH, STOP

# (does the reply show it, what it does, what to change) — checked on the trained model's greedy reply.
Check = tuple[Callable[[dict, str], bool], str, str]
CHECKS: tuple[Check, ...] = (
    (lambda stop, persona: stop["hf_finish_reason"] != STOP,
     "the trained model does not end its turn within {tokens} tokens",
     "check that the data's replies end with the template's end-of-turn (data-report.json, end_of_turn_token) and "
     "train longer or with a higher learning rate until it learns to stop"),
    (lambda stop, persona: loops(stop["hf_reply"]),
     "the trained model repeats itself",
     "use more varied data, fewer epochs or a lower learning rate (it may be overfitting), or chat with a repeat "
     "penalty"),
    (lambda stop, persona: bool(identity_slips(stop["hf_reply"], persona)),
     "the trained model speaks as its base model or an AI assistant",
     "add conversations where the persona says who it is, and train more steps"),
    (lambda stop, persona: bool(user_turn_lines(stop["hf_reply"])),
     "the trained model writes the user's turn",
     "make sure the data's replies end with the end-of-turn token and contain no 'User:' lines"),
)


def hf_stop(reference, prompt_ids: list[int], eos_id: int | None, max_tokens: int) -> dict:
    """The Hugging Face model's greedy reply to the same prompt: how it ends and what it says."""
    import torch

    with torch.no_grad():
        out = reference.model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids),
                                       dtype=torch.long), max_new_tokens=max_tokens, do_sample=False,
                                       temperature=None, top_p=None, top_k=None, eos_token_id=eos_id,
                                       pad_token_id=eos_id)
    new = out[0, len(prompt_ids):].tolist()
    stopped = bool(new) and eos_id is not None and new[-1] == eos_id
    text = reference.tokenizer.decode(new[:-1] if stopped else new, skip_special_tokens=False)
    return {"hf_finish_reason": STOP if stopped else LENGTH, "hf_completion_tokens": len(new), "hf_reply": text}


def behaviour_warnings(stop: dict, persona: str | None = None) -> list[dict]:
    """What the trained model's own reply does wrong, as `{"issue", "advice"}` rows (empty when nothing)."""
    return [{"issue": issue.format(tokens=stop.get("hf_completion_tokens")), "advice": advice}
            for shows, issue, advice in CHECKS if shows(stop, persona or "")]
