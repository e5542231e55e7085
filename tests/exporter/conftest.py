"""Tiny models for the exporter tests, built in seconds, offline, once per session:

- `qwen2_dir`: the tiny Qwen2 base, then taught on a few ChatML conversations to end its turns
  with `<|im_end|>` (the stop check needs a model that has learned to stop);
- `llama_bpe_dir`: Llama 3-style — byte-level BPE with Llama 3's split regex, BOS added by the
  post-processor, `<|eot_id|>` turns, llama3 RoPE scaling, untied output head, GQA;
- `llama_spm_dir`: Llama 2 / TinyLlama-style — a SentencePiece BPE model trained here with byte
  fallback, `</s>` ends a turn, tied embeddings;
- `qwen3_dir`: Qwen3 — q/k norms, head_dim × heads ≠ hidden size, tied embeddings;
- `gemma2_dir`, `gemma3_dir`: Gemma — a SentencePiece model as Gemma ships it (no dummy prefix,
  <bos> added), norms stored as w−1 (randomised, so a missing +1 shows), soft-capping, sliding
  windows shorter than the probes, Gemma 3's two RoPE bases;
- `phi3_dir`: Phi-3.5 — fused qkv and gate_up, LongRoPE factors, Llama 2 SentencePiece with the
  <|user|>/<|end|> tokens added, and no BOS added (a runtime's SentencePiece default would add one);
- `smollm_dir`: SmolLM2 — Llama with a byte-level BPE that splits digits one by one first.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from tuner.tiny_base import TinyShape, build_tiny_base, bundled_texts, train_tokenizer

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
# What the taught Qwen2 model says; the stop check asks the first prompt.
TEACHING_CHATS = [
    ("Hello! How are you today?", "I am well, thank you."),
    ("你好，今天过得怎么样？", "我很好，谢谢。"),
    ("Draw one card for me.", "The Star, upright: hope."),
    ("Who are you?", "I am 林栀, your friend."),
]
SYSTEM_PROMPT = "You are 林栀, a gentle friend."
SMALL = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-5)


def _round_up(n: int, multiple: int = 64) -> int:
    return (n + multiple - 1) // multiple * multiple


def _save(model, tokenizer, out: Path, generation_eos: int | None = None) -> Path:
    from transformers import GenerationConfig

    if generation_eos is not None:
        model.generation_config = GenerationConfig(eos_token_id=generation_eos)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def teach_to_stop(model_dir: Path, steps: int = 80) -> None:
    """Fit the model to a few ChatML conversations, so its replies end with <|im_end|>."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    chats = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in TEACHING_CHATS]
    chats += [[{"role": "system", "content": SYSTEM_PROMPT}, *chat] for chat in chats]
    texts = [tokenizer.apply_chat_template(chat, tokenize=False) for chat in chats]
    batch = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and immune to a busy machine
    try:
        model.train()
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(model_dir)


@pytest.fixture(scope="session")
def qwen2_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny-qwen2"
    build_tiny_base(out, TinyShape(pretrain_steps=0))
    teach_to_stop(out)
    return out


def _byte_level_bpe(split: str | None, specials: list[str], vocab_size: int):
    """Trained on the bundled texts; `split` None: SmolLM's digits-then-GPT-2-regex splitter."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ] if split else [
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(bundled_texts(), trainer)
    tok.add_special_tokens(specials)
    return tok


@pytest.fixture(scope="session")
def llama_bpe_dir(tmp_path_factory) -> Path:
    from tokenizers import processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("models") / "tiny-llama-bpe"
    tok = _byte_level_bpe(LLAMA3_SPLIT, LLAMA3_SPECIALS, 2000)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                       pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                        additional_special_tokens=LLAMA3_SPECIALS, chat_template=LLAMA3_TEMPLATE,
                                        clean_up_tokenization_spaces=False)
    torch.manual_seed(1)
    end_of_text = tok.token_to_id("<|end_of_text|>")
    config = LlamaConfig(**SMALL, vocab_size=_round_up(tok.get_vocab_size()), tie_word_embeddings=False,
                         initializer_range=0.1, bos_token_id=bos, eos_token_id=end_of_text,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 256},
                         rope_theta=500000.0)
    return _save(LlamaForCausalLM(config), tokenizer, out)


LLAMA2_PIECES = dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
# Gemma's tokenizer.model: <pad> <eos> <bos> <unk> first, turn markers as pieces, no dummy "▁" prefix.
GEMMA_PIECES = dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
                    unk_piece="<unk>", user_defined_symbols=["<start_of_turn>", "<end_of_turn>"], add_dummy_prefix=False)


def _train_sentencepiece(out: Path, pieces: dict | None = None) -> Path:
    import sentencepiece as spm

    model = io.BytesIO()
    lines = [line for text in bundled_texts() for line in text.splitlines() if line.strip()]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=3000,
                                   model_type="bpe", byte_fallback=True, character_coverage=0.995, split_digits=True,
                                   allow_whitespace_only_pieces=True, remove_extra_whitespaces=False,
                                   normalization_rule_name="identity", minloglevel=2, **(pieces or LLAMA2_PIECES))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.model").write_bytes(model.getvalue())
    return out / "tokenizer.model"


def _as_llama2_tokenizer_json(model_dir: Path, rstrip: tuple[str, ...] = ()) -> None:
    """Make tokenizer.json tokenize as sentencepiece does (and as Llama 2's own tokenizer.json:
    prepend ▁ to every text segment, spaces → ▁), and have transformers load it as it is.

    transformers 5's LlamaTokenizer class rebuilds its pipeline with a Metaspace pre-tokenizer that
    skips the ▁ prefix before text that starts with a space, unlike sentencepiece and llama.cpp;
    `hearth verify` reports that difference for such models (tested below)."""
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("from_slow", None)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    path = model_dir / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    tokenizer["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    ]}
    tokenizer["pre_tokenizer"] = None
    for token in tokenizer["added_tokens"]:
        token["rstrip"] = token["rstrip"] or token["content"] in rstrip
    path.write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")


def _llama2_tokenizer(out: Path, config: dict, added: list = (), rstrip: tuple[str, ...] = ()):
    """A Llama 2-style tokenizer: the SentencePiece model trained here, converted by transformers, tokens
    added on top, its tokenizer.json made to tokenize as sentencepiece does."""
    from transformers import AutoTokenizer

    _train_sentencepiece(out)
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "unk_token": "<unk>", "legacy": True, **config,
    }), encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(out, legacy=True, from_slow=True)
    if added:
        tokenizer.add_tokens(list(added), special_tokens=True)
    tokenizer.save_pretrained(out)
    _as_llama2_tokenizer_json(out, rstrip)
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(scope="session")
def llama_spm_dir(tmp_path_factory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("models") / "tiny-llama-spm"
    tokenizer = _llama2_tokenizer(out, {"eos_token": "</s>", "add_bos_token": True, "add_eos_token": False,
                                        "chat_template": ZEPHYR_TEMPLATE})
    torch.manual_seed(2)
    config = LlamaConfig(**SMALL, vocab_size=_round_up(len(tokenizer)), tie_word_embeddings=True,
                         initializer_range=0.1, bos_token_id=1, eos_token_id=2)
    return _save(LlamaForCausalLM(config), tokenizer, out)


@pytest.fixture(scope="session")
def qwen3_dir(tmp_path_factory) -> Path:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out = tmp_path_factory.mktemp("models") / "tiny-qwen3"
    tokenizer = train_tokenizer(bundled_texts(), 2000)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(3)
    config = Qwen3Config(**{**SMALL, "num_attention_heads": 4}, head_dim=128, vocab_size=_round_up(len(tokenizer)),
                         tie_word_embeddings=True, initializer_range=0.1, eos_token_id=endoftext,
                         bos_token_id=endoftext, rope_theta=1_000_000.0)
    return _save(Qwen3ForCausalLM(config), tokenizer, out, generation_eos=im_end)


# Gemma 2's template (Gemma 3's writes a system prompt into the first user turn instead of refusing it).
GEMMA2_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif -%}"
    "{%- if (message['role'] == 'assistant') -%}{%- set role = 'model' -%}{%- else -%}"
    "{%- set role = message['role'] -%}{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
PHI3_SPECIALS = ["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"]
# SmolLM2's ChatML, with its default system prompt when the conversation has none.
SMOLLM_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TINY = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=2048, initializer_range=0.1)


def _randomise_norms(model) -> None:
    """Gemma initialises its norm weights (stored as w−1) to 0; random ones make the +1 offset matter."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.normal_(0.0, 0.3)


def _tiny_gemma(out: Path, template: str, model_class, config_class, seed: int, **config) -> Path:
    """Gemma's tokenizer (as _train_sentencepiece builds it for Gemma) and a tiny model with random norms."""
    from transformers import AutoTokenizer

    _train_sentencepiece(out, GEMMA_PIECES)
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
        "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "chat_template": template,
    }), encoding="utf-8")
    AutoTokenizer.from_pretrained(out).save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    torch.manual_seed(seed)
    model = model_class(config_class(**TINY, head_dim=32, query_pre_attn_scalar=32, sliding_window=16,
                                     vocab_size=_round_up(len(tokenizer)), pad_token_id=0, eos_token_id=1,
                                     bos_token_id=2, tie_word_embeddings=True, **config))
    _randomise_norms(model)
    return _save(model, tokenizer, out)


@pytest.fixture(scope="session")
def gemma2_dir(tmp_path_factory) -> Path:
    from transformers import Gemma2Config, Gemma2ForCausalLM

    return _tiny_gemma(tmp_path_factory.mktemp("models") / "tiny-gemma2", GEMMA2_TEMPLATE, Gemma2ForCausalLM,
                       Gemma2Config, 6, attn_logit_softcapping=50.0, final_logit_softcapping=30.0)


@pytest.fixture(scope="session")
def gemma3_dir(tmp_path_factory) -> Path:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    return _tiny_gemma(tmp_path_factory.mktemp("models") / "tiny-gemma3", GEMMA3_TEMPLATE, Gemma3ForCausalLM,
                       Gemma3TextConfig, 7, layer_types=["sliding_attention", "full_attention"],
                       rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                                        "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0}})


@pytest.fixture(scope="session")
def phi3_dir(tmp_path_factory) -> Path:
    from tokenizers import AddedToken
    from transformers import AutoTokenizer, Phi3Config, Phi3ForCausalLM

    out = tmp_path_factory.mktemp("models") / "tiny-phi3"
    # As Phi-3 ships them: the turn markers and </s> swallow the whitespace after them (rstrip).
    _llama2_tokenizer(out, {"eos_token": "<|endoftext|>", "chat_template": PHI3_TEMPLATE}, rstrip=("</s>",),
                      added=[AddedToken(t, special=True, normalized=False, rstrip=t != "<|endoftext|>")
                             for t in PHI3_SPECIALS])
    config_path = out / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**tokenizer_config, "add_bos_token": False, "add_eos_token": False}),
                           encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(out)
    torch.manual_seed(8)
    half = 32 // 2  # rotary dims / 2
    config = Phi3Config(**{**TINY, "max_position_embeddings": 4096}, original_max_position_embeddings=1024,
                        vocab_size=_round_up(len(tokenizer)), tie_word_embeddings=False, sliding_window=None,
                        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                         "short_factor": [1.0 + 0.05 * i for i in range(half)],
                                         "long_factor": [1.0 + 0.5 * i for i in range(half)]},
                        bos_token_id=1, eos_token_id=tokenizer.convert_tokens_to_ids("<|end|>"),
                        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    return _save(Phi3ForCausalLM(config), tokenizer, out)


@pytest.fixture(scope="session")
def smollm_dir(tmp_path_factory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("models") / "tiny-smollm"
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = _byte_level_bpe(None, specials, 2000)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        unk_token="<|endoftext|>", additional_special_tokens=specials,
                                        chat_template=SMOLLM_TEMPLATE, clean_up_tokenization_spaces=False)
    torch.manual_seed(9)
    config = LlamaConfig(**TINY, rms_norm_eps=1e-5, vocab_size=_round_up(tok.get_vocab_size()),
                         tie_word_embeddings=True,
                         bos_token_id=tok.token_to_id("<|im_start|>"), eos_token_id=tok.token_to_id("<|im_end|>"),
                         rope_theta=130000.0)
    return _save(LlamaForCausalLM(config), tokenizer, out)


MODEL_FIXTURES = ("qwen2_dir", "llama_bpe_dir", "llama_spm_dir", "qwen3_dir")
NEW_MODEL_FIXTURES = ("gemma2_dir", "gemma3_dir", "phi3_dir", "smollm_dir")


@pytest.fixture(scope="session")
def f16_files(tmp_path_factory, request) -> dict[str, Path]:
    """Each tiny model converted to f16 once (the new architectures' take seconds)."""
    from exporter.convert import convert_hf_to_gguf

    out = tmp_path_factory.mktemp("gguf")
    return {name: convert_hf_to_gguf(request.getfixturevalue(name), out / f"{name}-f16.gguf")
            for name in MODEL_FIXTURES + NEW_MODEL_FIXTURES}


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, qwen2_dir) -> Path:
    """A finished training run as the trainer leaves it: recipe.yaml (with a system prompt),
    adapter/ (PEFT, lora_B nonzero), merged/ (base + adapter), heldout.jsonl."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path_factory.mktemp("runs") / "run-1"
    run.mkdir()
    torch.manual_seed(4)
    model = AutoModelForCausalLM.from_pretrained(qwen2_dir, dtype=torch.float32)
    adapted = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    for name, param in adapted.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.01)
    adapted.save_pretrained(run / "adapter")
    adapted.merge_and_unload().save_pretrained(run / "merged")
    AutoTokenizer.from_pretrained(qwen2_dir).save_pretrained(run / "merged")
    shutil.copy(qwen2_dir / "generation_config.json", run / "merged" / "generation_config.json")
    rows = [{"messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": q},
                          {"role": "assistant", "content": a}]} for q, a in TEACHING_CHATS]
    (run / "heldout.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                       encoding="utf-8")
    (run / "recipe.yaml").write_text(f"base: {qwen2_dir}\nsystem_prompt: {SYSTEM_PROMPT}\n", encoding="utf-8")
    return run
