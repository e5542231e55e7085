"""Keep the Hugging Face libraries' progress bars and advice out of hearth's output unless --verbose."""

from __future__ import annotations

import warnings

from hearth.verbosity import verbose


def quiet_hf_libraries() -> None:
    if verbose():
        return
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="(transformers|trl|peft|torch)")


def quiet_gguf_loading() -> None:
    """transformers' GGUF loader draws its own tqdm bar, which no verbosity switch reaches: give it one off."""
    if verbose():
        return
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_loading

    if not isinstance(gguf_loading.tqdm, functools.partial):
        gguf_loading.tqdm = functools.partial(gguf_loading.tqdm, disable=True)
