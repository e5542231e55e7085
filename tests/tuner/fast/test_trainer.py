"""The fast trainer (tuner/fast/trainer.py): its loss and LoRA gradients on a batch equal TRL's plain SFTTrainer's
(fp32 tight, bf16 within tolerance), its bookkeeping is the base trainer's, a failed compile falls back, and
automatic checkpointing follows the timed probe."""

from __future__ import annotations

import pytest
import torch

from tests.tuner.fast.tiny_qwen import lora_grads_and_loss, lora_trainer, rows_with_plain_boundaries
from tuner.fast.token_budget import BudgetChoice


@pytest.mark.parametrize(
    ("dtype", "loss_tol", "grad_tol"),
    [(torch.float32, 1e-5, 1e-4), (torch.bfloat16, 2e-2, 6e-2)],
    ids=["fp32", "bf16"],
)
def test_fast_path_loss_and_lora_gradients_equal_plain_path(dtype, loss_tol, grad_tol, tmp_path):
    rows = rows_with_plain_boundaries(4)
    plain_loss, plain_grads = lora_grads_and_loss(False, dtype, rows, tmp_path)
    fast_loss, fast_grads = lora_grads_and_loss(True, dtype, rows, tmp_path)
    assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=loss_tol)
    for name, grad in plain_grads.items():
        error = (fast_grads[name] - grad).norm() / grad.norm()
        assert error < grad_tol, f"{name}: relative gradient error {error:.2e}"


@pytest.mark.gpu
def test_cuda_fast_path_equals_plain_path_in_bf16(tmp_path):
    """On CUDA the fast path (compiled layers by default) runs FlashAttention varlen and the fp32-output head."""
    rows = rows_with_plain_boundaries(4)
    plain_loss, plain_grads = lora_grads_and_loss(False, torch.bfloat16, rows, tmp_path, "cuda")
    fast_loss, fast_grads = lora_grads_and_loss(True, torch.bfloat16, rows, tmp_path, "cuda")
    assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=2e-2)
    for name, grad in plain_grads.items():
        assert (fast_grads[name] - grad).norm() / grad.norm() < 6e-2, name


def test_fast_trainer_bookkeeping_matches_the_base_trainers(tmp_path):
    """FLOPs, clipped gradient norm and the token count come out as transformers' Trainer computes them."""
    from transformers import Trainer

    trainer, model = lora_trainer(True, torch.float32, rows_with_plain_boundaries(4), tmp_path)
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    assert trainer.floating_point_ops(batch) == Trainer.floating_point_ops(trainer, batch) > 0
    trainer.compute_loss(model, batch).backward()
    everything = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    norm = trainer._clip_grad_norm(model)
    assert norm.item() == pytest.approx(everything.item(), rel=1e-6)
    trainer.args.include_num_input_tokens_seen = "all"
    trainer._track_num_input_tokens(batch)
    assert trainer.state.num_input_tokens_seen == sum(len(r["input_ids"]) for r in rows_with_plain_boundaries(4))


def test_a_failed_compile_on_auto_falls_back_to_eager_and_says_so(tmp_path, monkeypatch):
    import tuner.fast.trainer as fast_trainer
    from tuner.fast.compiled_layers import compile_decoder_layers, decoder_layers

    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C compiler on this machine")

    monkeypatch.setattr(fast_trainer, "compile_decoder_layers", lambda lm: compile_decoder_layers(lm, no_compiler))
    rows = rows_with_plain_boundaries(4)
    trainer, model = lora_trainer(True, torch.float32, rows, tmp_path, compile="on")
    trainer.fast_path.settings.compile = "auto"  # compiling as "auto" does on CUDA: a failure falls back
    assert all("forward" in vars(layer) for layer in decoder_layers(model.get_base_model()))
    batch = next(iter(trainer.get_train_dataloader()))
    assert not trainer.fast_path.compile
    assert not any("forward" in vars(layer) for layer in decoder_layers(model.get_base_model()))
    assert "torch.compile failed (" in trainer.fast_path.describe() and "no C compiler" in trainer.fast_path.describe()
    loss = trainer.compute_loss(model, trainer._prepare_inputs(batch))
    loss.backward()  # and training goes on, eagerly
    assert torch.isfinite(loss)

    trainer, model = lora_trainer(True, torch.float32, rows, tmp_path, compile="on")  # forced on: the error stops the run
    with pytest.raises(Exception, match="no C compiler"):
        trainer.get_train_dataloader()


@pytest.mark.parametrize(("seconds", "expected"), [({4096: 0.1, 16384: 0.8}, False), ({4096: 0.2, 16384: 0.4}, True)])
def test_auto_checkpointing_follows_the_timed_probe(seconds, expected, tmp_path, monkeypatch):
    """The trainer's wiring: fit a budget each way, time both, switch the layers to the winner."""
    import tuner.fast.trainer as fast_trainer
    from tuner.fast.compiled_layers import decoder_layers

    trainer, model = lora_trainer(True, torch.float32, rows_with_plain_boundaries(4), tmp_path)
    trainer.fast_path.checkpointing = None  # "auto" as on CUDA (on CPU the plan settles it as off)
    layers = decoder_layers(model.get_base_model())

    def fit_token_budget(step, *, limit_bytes, smallest, largest, **_probe):
        checkpointing = layers[0].gradient_checkpointing  # what the probe would measure right now
        return BudgetChoice(16384 if checkpointing else 4096, 1, limit_bytes, [])

    def time_step(step, budget):
        assert layers[0].gradient_checkpointing == (budget == 16384)  # each timed with its own switch
        return seconds[budget]

    monkeypatch.setattr(fast_trainer, "memory_limit_bytes", lambda *args: 10**9)
    monkeypatch.setattr(fast_trainer, "CPU_TOKEN_BUDGET", 32768)  # the GPU's ceiling, so both budgets are below it
    monkeypatch.setattr(fast_trainer, "fit_token_budget", fit_token_budget)
    monkeypatch.setattr(fast_trainer, "time_step", time_step)
    budget = trainer._probe_budget([512] * 1000)
    assert budget == (16384 if expected else 4096) and trainer.fast_path.checkpointing is expected
    assert all(layer.gradient_checkpointing is expected for layer in layers)
    assert f"checkpointing {'on' if expected else 'off'}: measured faster" in trainer.fast_path.describe()
