"""Tokenizer and f16 logits parity between each tiny model and its GGUF file, through llama.cpp."""

from __future__ import annotations

import pytest

from hearth.llama import open_llama
from exporter.verify import HFReference, logits_parity, tokenizer_parity
from tests.exporter.conftest import MODEL_FIXTURES, NEW_MODEL_FIXTURES


@pytest.mark.parametrize("model", MODEL_FIXTURES + NEW_MODEL_FIXTURES)
def test_tokenizer_and_f16_logits_match_the_hf_model(model, f16_files, request):
    model_dir = request.getfixturevalue(model)
    reference = HFReference(model_dir)
    with open_llama(f16_files[model], logits_all=True, n_ctx=512) as llm:
        tokens = tokenizer_parity(reference, llm)
        logits = logits_parity(reference, llm, tie=1e-2)
    print(model, tokens, logits)
    assert tokens["passed"], tokens["mismatches"]
    assert tokens["probes"] >= 10
    assert logits["argmax_mismatches"] == 0
    assert logits["near_ties"] <= logits["positions"] // 20
    assert 0 < logits["max_abs_diff"] < 0.05  # f16 rounding, not a broken tensor
