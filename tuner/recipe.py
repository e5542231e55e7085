"""Recipes: every setting of a training run, as dataclasses loaded from YAML.

A recipe is a YAML file of sections (`model`, `lora`, `data`, `train`, `fast`, `preference`). Built-in recipes live in
`tuner/recipes/`; a user names one of those or a path. Command-line flags override single fields
(`--set train.learning_rate=1e-4`). The fully resolved recipe is saved in the run as `recipe.yaml`,
so any run can be reproduced with `hearth train --recipe runs/<id>/recipe.yaml`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from hearth.errors import UserError
from tuner.fast.settings import FastSettings
from tuner.formats import FORMATS_BY_NAME, METHOD_FORMATS

LORA_TARGETS_ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class ModelSection:
    base: str = "tiny-qwen2"
    """Base model: a name under HEARTH_HOME/models (the built-in `tiny-qwen2` is built on first use),
    a local Hugging Face directory, or a hub id such as `Qwen/Qwen2.5-0.5B-Instruct`."""

    dtype: str = "auto"
    """Weights' dtype while training: auto (bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU),
    bfloat16, float16 or float32."""

    attn_implementation: str = "sdpa"
    """Attention kernel: sdpa, eager or flash_attention_2 (if installed)."""

    trust_remote_code: bool = False
    """Run code shipped with a hub model. Off unless you trust its author."""

    chat_template: str = ""
    """A Jinja chat template replacing the tokenizer's own (empty: keep the tokenizer's)."""


@dataclass
class LoraSection:
    r: int = 16
    """LoRA rank."""
    alpha: int = 32
    """LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with rsLoRA)."""
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS_ALL))
    use_rslora: bool = False
    """Rank-stabilised scaling alpha/sqrt(r)."""
    use_dora: bool = False
    """Weight-decomposed LoRA (DoRA)."""
    qlora: bool = False
    """Load the base in 4-bit NF4 through bitsandbytes (CUDA only) and train LoRA on top."""
    modules_to_save: list[str] = field(default_factory=list)
    """Modules trained in full and saved whole (e.g. embed_tokens, lm_head). Such an adapter cannot
    become a GGUF LoRA: export merges instead."""


@dataclass
class DataSection:
    files: list[str] = field(default_factory=list)
    """Dataset files: .jsonl, .json or Hugging Face dataset directories."""
    format: str = "auto"
    """auto, or a row format: messages, sharegpt, alpaca, tarot (SFT), preference or kto (DPO/KTO)."""
    max_length: int = 512
    """Tokens per conversation; longer ones are cut at the end (reported in data-report.json)."""
    eval_fraction: float = 0.1
    """Share of conversations held out for evaluation (0 turns evaluation off)."""
    eval_max_rows: int = 200
    system_prompt: str = ""
    """Added as the system message to rows that have none (useful for tarot and Alpaca rows)."""
    seed: int = 42


@dataclass
class TrainSection:
    epochs: float = 3.0
    max_steps: int = -1
    """Stop after this many optimizer steps (-1: run all epochs)."""
    learning_rate: float = 5e-5
    lr_scheduler: str = "linear"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    batch_size: int | str = "auto"
    """Conversations per device per step; auto picks 8 on a GPU and 4 on CPU."""
    gradient_accumulation: int = 1
    eval_steps: int = 100
    save_steps: int = 100
    logging_steps: int = 10
    early_stopping_patience: int = 3
    """Stop after this many evaluations without improvement (0: never stop early)."""
    save_total_limit: int = 3
    seed: int = 42
    optimizer: str = "adamw_torch"
    method: str = "sft"
    """sft (learn every reply), dpo (pairs: the chosen reply over the rejected one) or kto (unpaired replies
    rated desirable or undesirable). DPO and KTO start from a tuned run's model (`preference.start_from`)."""


@dataclass
class PreferenceSection:
    start_from: str = ""
    """The run whose merged model this one starts from (and is compared with); empty for SFT."""
    beta: float = 0.1
    """How far the tuned model may move from the model it starts from: higher keeps it closer."""
    loss_type: str = "sigmoid"
    """DPO's loss: sigmoid (the DPO paper), ipo, hinge or robust (TRL's names)."""
    desirable_weight: float = 1.0
    """KTO: weight of the desirable replies' loss (raise it when they are fewer than the undesirable ones)."""
    undesirable_weight: float = 1.0


@dataclass
class Recipe:
    name: str = "custom"
    description: str = ""
    system_prompt: str = ""
    """The persona's system prompt, if the run has one (used by export's Modelfile and chat)."""
    model: ModelSection = field(default_factory=ModelSection)
    lora: LoraSection = field(default_factory=LoraSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    fast: FastSettings = field(default_factory=FastSettings)
    preference: PreferenceSection = field(default_factory=PreferenceSection)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)


def builtin_recipes() -> dict[str, Path]:
    folder = resources.files("tuner").joinpath("recipes")
    return {Path(entry.name).stem: Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml")}


def _build(cls, values, where: str):
    """Make dataclass `cls` from a mapping, refusing unknown fields and wrong types by name."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise UserError(f"'{where or 'recipe'}' must be a mapping of fields")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise UserError(f"unknown field '{prefix}{unknown[0]}' (known: {', '.join(fields)})")
    kwargs = {}
    for name, value in values.items():
        path = f"{where}.{name}" if where else name
        hint = hints[name]
        kwargs[name] = _build(hint, value, path) if dataclasses.is_dataclass(hint) else _coerce(hint, value, path)
    return cls(**kwargs)


def _coerce(hint, value, path: str):
    allowed = typing.get_args(hint) or (hint,)
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"'{path}' must be a list of strings")
        return value
    for kind in allowed:
        if kind is type(None) and value is None:
            return None
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind in (str, bool) and isinstance(value, kind):
            return value
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    raise UserError(f"'{path}' must be {names}, not {value!r}")


def parse_override(text: str) -> tuple[list[str], object]:
    """`train.learning_rate=1e-4` -> (["train", "learning_rate"], 0.0001); values are read as YAML."""
    if "=" not in text:
        raise UserError(f"override '{text}' must look like section.field=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else ""


def load_recipe(name_or_path: str, overrides: list[str] | tuple = ()) -> Recipe:
    """A built-in recipe by name or a YAML file, with `section.field=value` overrides applied."""
    builtins = builtin_recipes()
    path = builtins.get(name_or_path) or Path(name_or_path).expanduser()
    if not path.is_file():
        raise UserError(f"no recipe '{name_or_path}': not a file, and the built-in ones are {', '.join(sorted(builtins))}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"not valid YAML ({exc})", where=str(path)) from None
    for override in overrides:
        keys, value = parse_override(override)
        node = values
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise UserError(f"override '{override}': '{key}' is not a section")
        node[keys[-1]] = value
    try:
        recipe = _build(Recipe, values, "")
    except UserError as exc:
        raise UserError(str(exc), where=f"recipe {path}") from None
    validate(recipe)
    return recipe


DPO_LOSSES = ("sigmoid", "ipo", "hinge", "robust")

# Impossible settings, as (test, message) rows.
RULES = (
    (lambda r: r.lora.r < 1, "lora.r must be at least 1"),
    (lambda r: r.lora.alpha <= 0, "lora.alpha must be positive"),
    (lambda r: not 0 <= r.lora.dropout < 1, "lora.dropout must be in [0, 1)"),
    (lambda r: not r.lora.target_modules, "lora.target_modules is empty: LoRA would train nothing"),
    (lambda r: r.train.learning_rate <= 0, "train.learning_rate must be positive"),
    (lambda r: r.data.max_length < 16, "data.max_length must be at least 16 tokens"),
    (lambda r: not 0 <= r.data.eval_fraction < 1, "data.eval_fraction must be in [0, 1)"),
    (lambda r: r.train.epochs <= 0 and r.train.max_steps <= 0, "set train.epochs or train.max_steps above 0"),
    (lambda r: r.train.gradient_accumulation < 1, "train.gradient_accumulation must be at least 1"),
    (lambda r: not (r.train.batch_size == "auto" or (isinstance(r.train.batch_size, int) and r.train.batch_size >= 1)),
     "train.batch_size must be auto or at least 1"),
    (lambda r: r.model.dtype not in ("auto", "bfloat16", "float16", "float32"), "model.dtype must be auto, bfloat16, float16 or float32"),
    (lambda r: r.data.format not in ("auto", *FORMATS_BY_NAME), f"data.format must be auto or one of {', '.join(FORMATS_BY_NAME)}"),
    (lambda r: r.train.method not in METHOD_FORMATS, f"train.method must be {', '.join(METHOD_FORMATS)}"),
    (lambda r: r.preference.beta <= 0, "preference.beta must be positive"),
    (lambda r: r.train.early_stopping_patience > 0 and r.data.eval_fraction > 0
     and (r.train.eval_steps < 1 or r.train.save_steps % r.train.eval_steps != 0),
     "early stopping keeps the best checkpoint, so train.save_steps must be a multiple of train.eval_steps "
     "(or set train.early_stopping_patience: 0)"),
    (lambda r: r.train.method == "kto" and r.train.batch_size == 1,
     "KTO compares each reply with the others of its batch: train.batch_size must be at least 2 (or auto)"),
    (lambda r: r.preference.loss_type not in DPO_LOSSES, f"preference.loss_type must be {', '.join(DPO_LOSSES)}"),
    (lambda r: min(r.preference.desirable_weight, r.preference.undesirable_weight) <= 0,
     "preference.desirable_weight and undesirable_weight must be positive"),
    (lambda r: r.lora.qlora and r.lora.use_dora, "lora.qlora with lora.use_dora is not supported; turn one off"),
)


def validate(recipe: Recipe) -> None:
    for broken, message in RULES:
        if broken(recipe):
            raise UserError(f"recipe '{recipe.name}': {message}")


def embedding_warning(recipe: Recipe) -> str | None:
    """Full embedding/head weights in the adapter make it impossible to export as a GGUF LoRA."""
    heavy = {"embed_tokens", "lm_head", "wte", "word_embeddings"} & set(recipe.lora.modules_to_save)
    if heavy:
        return (f"lora.modules_to_save includes {', '.join(sorted(heavy))}: the adapter will carry full "
                "embedding weights (hundreds of MB) and cannot become a GGUF LoRA; export will merge instead")
    return None
