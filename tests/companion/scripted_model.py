"""A tiny model taught, in a few seconds, to answer every message with SCRIPTED_REPLY and then
`<|im_end|>`, so stopping and the `<think>` split can be tested deterministically."""

from __future__ import annotations

import random

SCRIPTED_REASONING = "嗯"
SCRIPTED_ANSWER = "好的"
SCRIPTED_REPLY = f"<think>{SCRIPTED_REASONING}</think>{SCRIPTED_ANSWER}"

USER_LINES = [
    "你好", "在吗", "今天好累", "Hello there", "你店里那盆栀子还活着吗？", "我们聊聊茶吧",
    "What are you doing?", "下雨了", "馒头今天乖不乖", "第12轮：说点什么", "晚安", "我有点难过",
]


def _conversations(rng: random.Random, count: int) -> list[list[dict]]:
    conversations = []
    for _ in range(count):
        system = rng.choice(["你是林栀。", "You are a helpful assistant.", "系统提示", None])
        messages = [{"role": "system", "content": system}] if system else []
        for _ in range(rng.randint(1, 3)):
            messages.append({"role": "user", "content": " ".join(rng.sample(USER_LINES, rng.randint(1, 3)))})
            messages.append({"role": "assistant", "content": SCRIPTED_REPLY})
        conversations.append(messages)
    return conversations


def teach_fixed_reply(base_dir, out_dir, steps: int = 24) -> None:
    """Fine-tune a copy of the tiny base so its every reply is SCRIPTED_REPLY + <|im_end|>."""
    import torch

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine one thread is several times faster than two
    try:
        _train(base_dir, out_dir, steps)
    finally:
        torch.set_num_threads(threads)


def _train(base_dir, out_dir, steps: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    # As in Qwen3 and R1-Distill, the reasoning tags are added (non-special) tokens, one id each.
    tokenizer.add_tokens(["<think>", "</think>"])
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    if len(tokenizer) > model.config.vocab_size:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64, mean_resizing=False)
    rng = random.Random(0)
    rows = []
    for messages in _conversations(rng, 64):
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
        labels = [-100] * len(ids)
        # learn every assistant turn: from after "<|im_start|>assistant\n" through "<|im_end|>"
        for index in (i for i, m in enumerate(messages) if m["role"] == "assistant"):
            prefix = tokenizer.apply_chat_template(messages[:index], tokenize=True, add_generation_prompt=True,
                                                   return_dict=False)
            upto = tokenizer.apply_chat_template(messages[: index + 1], tokenize=True, return_dict=False)
            for i in range(len(prefix), len(upto) - 1):  # the trailing "\n" after <|im_end|> is not learned
                labels[i] = ids[i]
        rows.append((ids, labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    pad = tokenizer.pad_token_id
    for step in range(steps):
        batch = rng.sample(rows, 8)
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
