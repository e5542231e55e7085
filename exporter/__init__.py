"""Hugging Face model → GGUF, written in-process on the `gguf` package; PEFT adapter → GGUF LoRA;
quantization through llama-cpp-python; fidelity checks (tokenizer, logits, perplexity, stop token);
an Ollama Modelfile. Depends on nothing of ours but `hearth` (errors, paths, atomic writes, events)."""
