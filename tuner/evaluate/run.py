"""`evaluate_run`: a trained run against its base on the run's held-out conversations (or a prompts file).

Both Hugging Face sides come from one model: the base with the run's adapter, switched off for the base side,
so an eval holds one copy of the weights. Each GGUF asked for is read through llama.cpp on the same held-out
ids and answers the same prompts, so a quantization's cost in perplexity sits next to the gain from training.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from hearth.errors import UserError
from hearth.language import run_language, text_language
from hearth.paths import RunPaths, resolve_run
from tuner.evaluate.generate import Settings, gguf_reply, hf_reply, reply_budgets
from tuner.evaluate.loss import LOSS_MAX_TOKENS, Loss, encode_heldout, hf_logits, mean_loss
from tuner.evaluate.measures import Context, drawn_cards, median_units, prompt_user_names
from tuner.evaluate.prompts import Prompt, choose, first_reply_prompt, load_prompts_file, read_conversations
from tuner.evaluate.report import BASE, TUNED, EvalReport, measure_rows, verdict, write_report
from tuner.preference.margin import preference_margin, read_rows

DEFAULT_PROMPTS = 4  # 4 prompts x 2 sides x <=160 tokens: about a minute for a 135M model on 2 CPU cores
Emit = Callable[..., None]


def _recipe(run: RunPaths):
    from tuner.recipe import load_recipe

    if not run.recipe.is_file():
        raise UserError("this is not a training run (no recipe.yaml)", where=str(run.root))
    return load_recipe(str(run.recipe))


def _pool(run: RunPaths, prompts_file) -> tuple[list[Prompt], list[list[dict]], str]:
    """(prompts to ask, conversations to score the loss on, where they came from)."""
    if prompts_file is not None:
        prompts = load_prompts_file(prompts_file)
        scored = [[*p.messages, {"role": "assistant", "content": p.reference}] for p in prompts if p.reference]
        return prompts, scored, str(prompts_file)
    conversations = read_conversations(run.heldout) if run.heldout.is_file() else []
    prompts = [p for p in (first_reply_prompt(c) for c in conversations) if p]
    if not prompts:
        raise UserError(f"run {run.root.name} has no held-out conversations to evaluate on (heldout.jsonl is missing "
                        "or empty); train with data.eval_fraction above 0, or pass --prompts FILE", where=str(run.root))
    return prompts, conversations, "held-out"


def gguf_files(run: RunPaths, ggufs=(), quants=()) -> list[Path]:
    """The GGUF sides: files named directly, and the run's own `<id>-<quant>.gguf` for each quantization."""
    paths = [Path(g).expanduser() for g in ggufs]
    for quant in quants:
        path = run.gguf / f"{run.root.name}-{quant}.gguf"
        if not path.is_file():
            raise UserError(f"run {run.root.name} has no {quant} GGUF ({path}); export it first: "
                            f"`hearth export {run.root.name} --quant {quant}`")
        paths.append(path)
    for path in paths:
        if not path.is_file() or path.suffix != ".gguf":
            raise UserError("not a GGUF file", where=str(path))
    return list(dict.fromkeys(paths))


def _side_name(run: RunPaths, path: Path, taken: set[str]) -> str:
    stem = path.stem
    name = stem.removeprefix(f"{run.root.name}-") if stem.startswith(f"{run.root.name}-") else stem
    while name in taken:
        name = f"{name}'"
    return name


def _contexts(prompts: list[Prompt], persona: str, language: str) -> list[Context]:
    typical = median_units([p.reference for p in prompts]) or 0.0
    return [Context(reference=p.reference, language=language, persona="\n".join(filter(None, (persona, p.system))),
                    user_names=prompt_user_names(p.text), cards=drawn_cards(p.text), median_units=typical)
            for p in prompts]


def _load_tuned(run: RunPaths, recipe):
    """The base with the run's adapter (PEFT), and the tokenizer training used."""
    import torch
    from peft import PeftModel

    from hearth.weights import safetensors_files
    from tuner.model_loading import load_model, load_tokenizer, local_base, resolve_base

    base = local_base(resolve_base(recipe.model.base))  # a hub base from its local copy, as merge loads it
    safetensors_files(run.adapter)  # weights from safetensors only, the adapter's too
    tokenizer = load_tokenizer(str(run.adapter), recipe)
    model = load_model(base, recipe)
    if torch.cuda.is_available() and not recipe.lora.qlora:
        model = model.to("cuda")
    return PeftModel.from_pretrained(model, str(run.adapter)).eval(), tokenizer, base


def _hf_side(model, tokenizer, encoded, prompts, budgets, settings, eot_id, side: str, emit: Emit, preference_rows=()):
    emit("stage", message=f"{side}: held-out loss on {len(encoded)} conversations")
    loss = mean_loss(hf_logits(model), encoded) if encoded else None
    margin = None
    if preference_rows:
        emit("stage", message=f"{side}: preference margin on {len(preference_rows)} held-out rows")
        margin = preference_margin(model, tokenizer, list(preference_rows))
    replies = []
    for number, (prompt, budget) in enumerate(zip(prompts, budgets), 1):
        emit("stage", message=f"{side}: reply {number}/{len(prompts)}")
        replies.append(hf_reply(model, tokenizer, prompt.messages, settings, eot_id, budget))
    return loss, replies, margin


def _gguf_side(path: Path, encoded, prompts, budgets, settings, side: str, emit: Emit):
    from hearth.llama import eval_logits, open_llama

    longest = max([len(e.input_ids) for e in encoded] + [0])
    n_ctx = max(1024, longest + max(budgets, default=0) + 8)  # a held-out conversation, or a prompt and its budget
    with open_llama(path, logits_all=True, n_ctx=n_ctx, seed=settings.seed) as llm:
        emit("stage", message=f"{side}: held-out loss through llama.cpp ({path.name})")
        loss = mean_loss(lambda ids, rows: eval_logits(llm, ids)[rows], encoded) if encoded else None
        replies = []
        for number, (prompt, budget) in enumerate(zip(prompts, budgets), 1):
            emit("stage", message=f"{side}: reply {number}/{len(prompts)}")
            replies.append(gguf_reply(llm, prompt.messages, settings, budget))
    return loss, replies


def _loss_json(losses: dict[str, Loss | None]) -> dict[str, dict]:
    """Each side's loss; a GGUF side also says how much perplexity it adds over the tuned model it came from."""
    out = {side: loss.to_json() for side, loss in losses.items() if loss is not None}
    tuned = losses.get(TUNED)
    for side, row in out.items():
        if side not in (BASE, TUNED) and tuned is not None:
            row["perplexity_vs_tuned"] = round(losses[side].perplexity / tuned.perplexity - 1, 5)
    return out


def eval_args(run_root, *, prompts: int | None = None, seed: int = 0, prompts_file=None, ggufs=(), quants=(),
              max_tokens: int | None = None, loss_tokens: int | None = None) -> list[str]:
    """The command line of `python -m tuner eval` (tuner/__main__.py) for a run, as every front end starts it
    (`hearth eval`, the TUI's eval screen); what is left out is the child's default."""
    args = ["eval", str(run_root), "--seed", str(seed)]
    args += ["-n", str(prompts)] if prompts is not None else []
    args += ["--prompts", str(prompts_file)] if prompts_file else []
    args += [item for path in ggufs for item in ("--gguf", str(path))]
    args += ["--quant", ",".join(quants)] if quants else []
    args += ["--max-tokens", str(max_tokens)] if max_tokens else []
    args += ["--loss-tokens", str(loss_tokens)] if loss_tokens else []
    return args


def check_inputs(run: RunPaths, prompts_file=None, ggufs=(), quants=(), prompts: int = DEFAULT_PROMPTS):
    """Everything about the input that can be wrong, checked in a second without loading a model:
    (recipe, (prompts, scored conversations, source), GGUF paths)."""
    if prompts < 1:
        raise UserError(f"-n must be at least 1, not {prompts}")
    recipe = _recipe(run)
    if not (run.adapter / "adapter_config.json").is_file():
        raise UserError(f"run {run.root.name} has no adapter yet; train it first (or resume it)", where=str(run.adapter))
    return recipe, _pool(run, prompts_file), gguf_files(run, ggufs, quants)


def evaluate_run(run, *, prompts: int = DEFAULT_PROMPTS, sides=(BASE, TUNED), ggufs=(), quants=(),
                 prompts_file=None, seed: int = 0, max_new_tokens: int | None = None, temperature: float = 0.7,
                 loss_tokens: int = LOSS_MAX_TOKENS, emit: Emit | None = None, write: bool = True) -> EvalReport:
    """Measure a run's tuned model against its base (and any GGUFs of it); writes runs/<id>/eval/ unless told not to."""
    emit = emit or (lambda *a, **k: None)
    run = run if isinstance(run, RunPaths) else resolve_run(run)
    unknown = [s for s in sides if s not in (BASE, TUNED)]
    if unknown:
        raise UserError(f"unknown side {unknown[0]!r}; the Hugging Face sides are {BASE} and {TUNED}")
    recipe, (pool, scored, source), gguf_paths = check_inputs(run, prompts_file, ggufs, quants, prompts)
    chosen = choose(pool, prompts, seed)
    emit("stage", message=f"loading the base ({recipe.model.base}) with the adapter of {run.root.name}")
    model, tokenizer, base = _load_tuned(run, recipe)
    from tuner.masking import end_of_turn_token

    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn_token(tokenizer))
    budgets = reply_budgets(tokenizer, [p.reference for p in chosen], max_new_tokens)
    settings = Settings(max(budgets, default=max_new_tokens or 0), temperature, seed=seed,
                        per_reference=not max_new_tokens)
    encoded = encode_heldout(tokenizer, scored, recipe.data.max_length, loss_tokens)
    references = " ".join(p.reference for p in pool)
    language = run_language(run.root, default=text_language(references) if references.strip() else "en")
    losses: dict[str, Loss | None] = {}
    replies, margins = {}, {}
    preference_rows = read_rows(run.heldout_preferences)  # a DPO/KTO run's; its base is the run it started from
    for side in (s for s in (BASE, TUNED) if s in sides):
        if side == BASE:
            with model.disable_adapter():
                losses[side], replies[side], margins[side] = _hf_side(
                    model, tokenizer, encoded, chosen, budgets, settings, eot_id, side, emit, preference_rows)
        else:
            if not recipe.lora.qlora:
                model.merge_adapter()  # the weights export will hold, and a forward pass as cheap as the base's
            losses[side], replies[side], margins[side] = _hf_side(
                model, tokenizer, encoded, chosen, budgets, settings, eot_id, side, emit, preference_rows)
    del model
    for path in gguf_paths:
        side = _side_name(run, path, set(replies))
        losses[side], replies[side] = _gguf_side(path, encoded, chosen, budgets, settings, side, emit)
    contexts = _contexts(chosen, recipe.system_prompt, language)
    rows = measure_rows(replies, contexts)
    loss = _loss_json(losses)
    preference = {side: margin.to_json() for side, margin in margins.items() if margin is not None}
    report = EvalReport(
        run=run.root.name, base=str(base), source=source, language=language, settings=settings.to_json(),
        sides=list(replies), loss=loss, measures=rows, verdict=verdict(loss, rows, preference),
        preference=preference, started_from=recipe.preference.start_from,
        samples=[{**p.to_json(), "budget": budgets[i], "replies": {side: replies[side][i].to_json() for side in replies}}
                 for i, p in enumerate(chosen)],
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if write:
        path = write_report(run.root, report)
        emit("saved", path=str(path))
        emit("saved", path=str(path.with_name("eval.md")))
    return report
