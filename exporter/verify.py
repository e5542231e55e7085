"""Does the GGUF file behave like the model that was trained? Four checks, each a number or a list:

- tokenizer parity: on a probe set (Chinese, English, digits, emoji, whitespace runs, the special
  tokens and a rendered chat), llama.cpp's ids equal the Hugging Face tokenizer's, every one;
- logits parity (16/32-bit files): on probe prompts, the same argmax at every position as the
  Hugging Face model in float32, and the largest absolute logit difference;
- perplexity (quantized files): on held-out text from the run, the increase over the reference
  (the f16 GGUF in an export, the Hugging Face model otherwise);
- stop check: the GGUF's greedy chat completion and the Hugging Face model's stop (or run out) alike.

Those decide pass/fail. What the trained model does by itself on that prompt — never stops, loops, slips out
of its persona — is the second verdict, warnings with advice (exporter/behaviour.py), never a failure.

A position whose two best Hugging Face logits are closer than the file type's rounding can decide
(`TIE_TOLERANCE`) is counted as a near tie, not as a mismatch.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gguf
import numpy as np

from exporter.bos_eos import hf_additions
from exporter.behaviour import behaviour_warnings, hf_stop
from exporter.chat_template import load_chat_template, render, special_token_texts
from exporter.export_report import FileReport
from hearth.errors import UserError
from hearth.jsonl import read_rows
from hearth.llama import STOP, eval_logits, native_output, open_llama
from hearth.user_paths import user_path
from hearth.weights import safetensors_files

TOKENIZER_PROBES = (
    "你好，今天过得怎么样？我很好，谢谢。塔罗牌：愚人（正位），星币十（逆位）。",
    "The quick brown fox jumps over the lazy dog. Don't you think it's we'll-known?",
    "0 7 42 123 4567 89012 3.14159 2026-11-22 1,000,000",
    "emoji 🙂🎉👍🏽❤️ and 🀄 mixed in",
    "  two leading spaces,\ttabs\t\tand\n\n\nnewlines   trailing   ",
    "Mixed 中文 and English: The Fool (正位)!  星星✨",
)
LOGIT_PROMPTS = (
    "Hello! How are you today?",
    "你好，今天过得怎么样？",
    "Draw one card for me: 塔罗牌 1 2 3.",
)
STOP_PROMPT = "Hello! How are you today?"
# File type → the smallest top-2 logit gap its rounding can be trusted to order.
TIE_TOLERANCE = {"F32": 1e-4, "F16": 1e-2, "BF16": 5e-2}
FULL_PRECISION = frozenset(TIE_TOLERANCE)
N_CTX = 512
PERPLEXITY_MAX_TOKENS = 2048
STOP_MAX_TOKENS = 128

Emit = Callable[..., None]


def read_gguf(path: Path) -> gguf.GGUFReader:
    """The file's GGUF reader; a missing, cut short or foreign file is refused in one line."""
    path = Path(path)
    if not path.is_file():
        raise UserError("no such GGUF file", where=str(path))
    with user_path(path, "read"):
        try:
            return gguf.GGUFReader(path)
        except (ValueError, IndexError, KeyError, OverflowError, struct.error) as exc:
            raise UserError(f"not a complete GGUF file ({str(exc).splitlines()[0][:120]}); it is cut short or damaged",
                            where=str(path)) from None


def file_type_name(path: Path) -> str:
    """'F16', 'Q8_0', 'Q4_K_M', … from general.file_type."""
    field_ = read_gguf(path).fields.get(gguf.Keys.General.FILE_TYPE)
    try:
        return gguf.LlamaFileType(int(field_.contents())).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (AttributeError, TypeError, ValueError):
        raise UserError("the GGUF file names no known general.file_type", where=str(path)) from None


def _gguf_field(path: Path, key: str):
    field_ = read_gguf(path).fields.get(key)
    return field_.contents() if field_ is not None else None


def special_additions(reference: "HFReference", gguf_path: Path) -> dict:
    """The GGUF's add_bos/add_eos flags (and the tokens they add) against what the HF tokenizer adds."""
    before, after = hf_additions(reference.tokenizer)
    keys = gguf.Keys.Tokenizer
    fields = {key: _gguf_field(gguf_path, key) for key in (keys.ADD_BOS, keys.ADD_EOS, keys.BOS_ID, keys.EOS_ID)}
    gguf_before = [int(fields[keys.BOS_ID])] if fields[keys.ADD_BOS] else []
    gguf_after = [int(fields[keys.EOS_ID])] if fields[keys.ADD_EOS] else []
    return {"passed": (before, after) == (gguf_before, gguf_after), "hf_bos": before, "hf_eos": after,
            "gguf_add_bos": fields[keys.ADD_BOS], "gguf_add_eos": fields[keys.ADD_EOS],
            "gguf_bos": gguf_before, "gguf_eos": gguf_after}


@dataclass
class HFReference:
    """The Hugging Face side: tokenizer and float32 model, loaded on first use."""

    model_dir: Path
    _tokenizer: object = None
    _model: object = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        return self._tokenizer

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    @property
    def model(self):
        import torch
        from transformers import AutoModelForCausalLM

        if self._model is None:
            self._model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32,
                                                               use_safetensors=True).eval()
        return self._model

    def logits(self, ids: list[int]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.tensor([ids])).logits[0].float().numpy()


def _special_probes(model_dir: Path, tokenizer) -> list[str]:
    """The special tokens, each between ordinary text, and a short rendered chat."""
    specials = [t for t in tokenizer.all_special_tokens if t] + list(getattr(tokenizer, "added_tokens_encoder", {}))
    probes = [f"text{token}more {token} end" for token in dict.fromkeys(specials)]
    rendered = render_chat(model_dir, [{"role": "user", "content": "你好 hello"},
                                       {"role": "assistant", "content": "Hi! 你好。"}], add_generation_prompt=True)
    return probes + ([rendered] if rendered else [])


def render_chat(model_dir: Path, messages: list[dict], *, add_generation_prompt: bool) -> str | None:
    template = load_chat_template(model_dir)
    if not template:
        return None
    return render(template, messages, add_generation_prompt=add_generation_prompt, tokens=special_token_texts(model_dir))


def _llama_ids(llm, text: str) -> list[int]:
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)


def tokenizer_parity(reference: HFReference, llm) -> dict:
    probes = list(TOKENIZER_PROBES) + _special_probes(reference.model_dir, reference.tokenizer)
    mismatches = []
    for text in probes:
        expected, got = reference.ids(text), _llama_ids(llm, text)
        if expected != got:
            at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
            mismatches.append({"text": text, "first_difference": at, "hf": expected[at:at + 6], "gguf": got[at:at + 6]})
    return {"passed": not mismatches, "probes": len(probes), "mismatches": mismatches}


def compare_logits(expected: np.ndarray, got: np.ndarray, tie: float) -> dict:
    """Argmax agreement and max |difference| between two (positions, vocab) logit arrays."""
    n_vocab = min(expected.shape[1], got.shape[1])
    expected, got = expected[:, :n_vocab], got[:, :n_vocab]
    want, have = expected.argmax(-1), got.argmax(-1)
    top2 = np.sort(expected, axis=-1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    differ = want != have
    near_ties = differ & (margin < tie)
    return {"positions": int(len(want)), "argmax_mismatches": int((differ & ~near_ties).sum()),
            "near_ties": int(near_ties.sum()), "max_abs_diff": float(np.abs(expected - got).max())}


def _merge(parts: list[dict]) -> dict:
    return {"positions": sum(p["positions"] for p in parts),
            "argmax_mismatches": sum(p["argmax_mismatches"] for p in parts),
            "near_ties": sum(p["near_ties"] for p in parts),
            "max_abs_diff": max(p["max_abs_diff"] for p in parts)}


def probe_prompts(model_dir: Path) -> list[str]:
    chats = [render_chat(model_dir, [{"role": "user", "content": p}], add_generation_prompt=True) for p in LOGIT_PROMPTS]
    return [c for c in chats if c] + list(LOGIT_PROMPTS)


def logits_parity(reference: HFReference, llm, tie: float) -> dict:
    parts = [compare_logits(reference.logits(ids), eval_logits(llm, ids), tie)
             for ids in (reference.ids(p) for p in probe_prompts(reference.model_dir))]
    result = _merge(parts)
    return {"passed": result["argmax_mismatches"] == 0, **result, "tie_tolerance": tie}


def heldout_texts(model_dir: Path, heldout: Path | None) -> list[str]:
    """Held-out conversations rendered as the model saw them in training (or the probes, without any)."""
    texts = []
    if heldout and Path(heldout).is_file():
        for line in read_rows(heldout, what="held-out file"):
            messages = line.row["messages"]
            texts.append(render_chat(model_dir, messages, add_generation_prompt=False)
                         or "\n".join(m["content"] for m in messages))
    return texts or list(TOKENIZER_PROBES)


def perplexity_of(nll_windows: list[tuple[np.ndarray, list[int]]]) -> float:
    total, count = 0.0, 0
    for logits, ids in nll_windows:
        shifted = logits[:-1].astype(np.float64)
        shifted -= shifted.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        total -= float(log_probs[np.arange(len(ids) - 1), ids[1:]].sum())
        count += len(ids) - 1
    return math.exp(total / max(count, 1))


def token_windows(llm, texts: list[str]) -> list[list[int]]:
    ids = [t for text in texts for t in _llama_ids(llm, text)][:PERPLEXITY_MAX_TOKENS]
    return [ids[i:i + N_CTX] for i in range(0, len(ids), N_CTX) if len(ids[i:i + N_CTX]) > 1]


def perplexity(llm, windows: list[list[int]]) -> float:
    return perplexity_of([(eval_logits(llm, w), w) for w in windows])


def stop_check(llm, messages: list[dict], eos_text: str | None) -> dict:
    with native_output():
        reply = llm.create_chat_completion(messages=messages, max_tokens=STOP_MAX_TOKENS, temperature=0.0,
                                           repeat_penalty=1.0, seed=0)
    choice = reply["choices"][0]
    return {"passed": choice["finish_reason"] == STOP, "finish_reason": choice["finish_reason"],
            "completion_tokens": reply["usage"]["completion_tokens"], "end_of_turn": eos_text,
            "reply": choice["message"]["content"][:200]}


def stop_messages(model_dir: Path, heldout: Path | None, system_prompt: str | None = None) -> list[dict]:
    """The first held-out conversation up to its first reply, else a greeting."""
    messages = [{"role": "user", "content": STOP_PROMPT}]
    if heldout and Path(heldout).is_file():
        for line in read_rows(heldout, what="held-out file"):
            rows = line.row["messages"]
            first_reply = next((i for i, m in enumerate(rows) if m["role"] == "assistant"), None)
            if first_reply:
                messages = rows[:first_reply]
                break
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages


@dataclass
class VerifyContext:
    """What one export verifies against, shared across its files."""

    model_dir: Path
    heldout: Path | None = None
    system_prompt: str | None = None
    reference: HFReference = field(init=False)
    _reference_ppl: float | None = None
    _hf_stop: dict | None = None  # the trained model's own stop-check reply, the same for every file
    reference_label: str = "hf"

    def __post_init__(self):
        self.model_dir = Path(self.model_dir)
        if self.heldout is None and (self.model_dir.parent / "heldout.jsonl").is_file():
            self.heldout = self.model_dir.parent / "heldout.jsonl"
        self.reference = HFReference(self.model_dir)


def verify_gguf(model_dir, gguf_path, *, emit: Emit | None = None, context: VerifyContext | None = None,
                reference_gguf: Path | None = None) -> FileReport:
    """All checks that apply to this file; `passed` is False when any parity check fails."""
    emit = emit or (lambda *a, **k: None)
    context = context or VerifyContext(Path(model_dir))
    gguf_path = Path(gguf_path)
    safetensors_files(context.model_dir)  # weights from safetensors only: a pickle-only directory is refused
    kind = file_type_name(gguf_path)
    report = FileReport(gguf_path.name, kind.lower())
    eos_id = _gguf_field(gguf_path, gguf.Keys.Tokenizer.EOS_ID)
    report.specials = special_additions(context.reference, gguf_path)
    with open_llama(gguf_path, logits_all=True, n_ctx=N_CTX, seed=0) as llm:
        emit("stage", message=f"verifying {gguf_path.name}: tokenizer parity")
        report.tokenizer = tokenizer_parity(context.reference, llm)
        if kind in FULL_PRECISION:
            emit("stage", message=f"verifying {gguf_path.name}: logits parity")
            report.logits = logits_parity(context.reference, llm, TIE_TOLERANCE[kind])
        else:
            emit("stage", message=f"verifying {gguf_path.name}: perplexity on held-out text")
            report.perplexity = _perplexity_report(context, llm, reference_gguf)
        emit("stage", message=f"verifying {gguf_path.name}: stop check")
        eos_text = llm.detokenize([int(eos_id)], special=True).decode("utf-8", "replace") if eos_id is not None else None
        messages = stop_messages(context.model_dir, context.heldout, context.system_prompt)
        report.stop = _stop_agreement(context, stop_check(llm, messages, eos_text), messages, eos_id)
    report.behaviour = behaviour_warnings(report.stop, context.system_prompt)
    report.passed = report.checked()
    return report


def _stop_agreement(context: VerifyContext, gguf_stop: dict, messages: list[dict], eos_id) -> dict:
    """Fidelity asks whether the file stops where the trained model does, not whether the model stops at all."""
    if context._hf_stop is None:
        prompt = render_chat(context.model_dir, messages, add_generation_prompt=True) or messages[-1]["content"]
        context._hf_stop = hf_stop(context.reference, context.reference.ids(prompt),
                                   None if eos_id is None else int(eos_id), STOP_MAX_TOKENS)
    agree = (gguf_stop["finish_reason"] == STOP) == (context._hf_stop["hf_finish_reason"] == STOP)
    return {**gguf_stop, **context._hf_stop, "hf_reply": context._hf_stop["hf_reply"][:200], "passed": agree}


def _perplexity_report(context: VerifyContext, llm, reference_gguf: Path | None) -> dict:
    windows = token_windows(llm, heldout_texts(context.model_dir, context.heldout))
    ppl = perplexity(llm, windows)
    if context._reference_ppl is None:
        if reference_gguf is not None:
            with open_llama(reference_gguf, logits_all=True, n_ctx=N_CTX, seed=0) as ref:
                context._reference_ppl = perplexity(ref, windows)
            context.reference_label = reference_gguf.name
        else:
            context._reference_ppl = perplexity_of([(context.reference.logits(w), w) for w in windows])
    return {"reference": context.reference_label, "reference_ppl": round(context._reference_ppl, 4),
            "ppl": round(ppl, 4), "increase": round(ppl / context._reference_ppl - 1, 5),
            "tokens": sum(len(w) for w in windows),
            "source": "held-out text" if context.heldout else "probe texts"}


def verify_lora(merged_gguf: Path, base_gguf: Path, lora_gguf: Path, model_dir: Path) -> dict:
    """Base GGUF + LoRA GGUF against the merged GGUF: same argmax, logits within f16 rounding."""
    reference = HFReference(Path(model_dir))
    prompts = [reference.ids(p) for p in probe_prompts(Path(model_dir))]
    with open_llama(merged_gguf, logits_all=True, n_ctx=N_CTX) as llm:
        merged = [eval_logits(llm, ids) for ids in prompts]
    with open_llama(base_gguf, logits_all=True, n_ctx=N_CTX, lora_path=str(lora_gguf)) as llm:
        adapted = [eval_logits(llm, ids) for ids in prompts]
    result = _merge([compare_logits(m, a, TIE_TOLERANCE["F16"]) for m, a in zip(merged, adapted)])
    return {"passed": result["argmax_mismatches"] == 0, **result}


def summary_lines(report: FileReport) -> list[str]:
    """One line per check, for a terminal."""
    lines = []
    specials = report.specials
    if specials:
        lines.append(f"bos/eos added: hf {specials['hf_bos']}/{specials['hf_eos']}, gguf {specials['gguf_bos']}/"
                     f"{specials['gguf_eos']} (add_bos={specials['gguf_add_bos']}, add_eos={specials['gguf_add_eos']})"
                     f"{'' if specials['passed'] else ' DIFFER'}")
    tok = report.tokenizer
    if tok:
        lines.append(f"tokenizer parity: {tok['probes'] - len(tok['mismatches'])}/{tok['probes']} probes identical")
    logits = report.logits
    if logits:
        lines.append(f"logits parity: argmax equal at {logits['positions'] - logits['argmax_mismatches']}"
                     f"/{logits['positions']} positions ({logits['near_ties']} near ties), "
                     f"max |Δ| {logits['max_abs_diff']:.4g}")
    ppl = report.perplexity
    if ppl:
        lines.append(f"perplexity: {ppl['ppl']:.4g} vs {ppl['reference_ppl']:.4g} ({ppl['reference']}), "
                     f"{ppl['increase']:+.2%} on {ppl['tokens']} tokens of {ppl['source']}")
    stop = report.stop
    if stop:
        lines.append(f"stop check: finish_reason={stop['finish_reason']} after {stop['completion_tokens']} tokens"
                     f" (end of turn {stop['end_of_turn']!r})" + (
                         f", the trained model {stop['hf_finish_reason']} after {stop['hf_completion_tokens']}"
                         if "hf_finish_reason" in stop else ""))
    lines += [f"warning: {w['issue']} — {w['advice']}" for w in report.behaviour]
    return lines
