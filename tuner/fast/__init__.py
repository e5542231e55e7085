"""The fast path for training, on CPU too (compiled layers, FlashAttention varlen and Liger only on CUDA):
padding-free packing, a chunked assistant-only loss, an automatic token budget, and gradient checkpointing only
when memory needs it and it measures faster.

`plan.choose_fast_path(settings, model, has_cuda)` decides what is on; `tuner/train.py` plugs
the result (trainer class, collator, SFTConfig overrides) into its TRL trainer.
"""
