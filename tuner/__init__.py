"""Datasets, chat templating with assistant-only loss, recipes, LoRA/QLoRA training on TRL + PEFT,
merging, and the tiny offline base model. Depends on nothing of ours but `hearth` (errors, paths)."""
