"""The fast trainer's per-step bookkeeping skips whole-model walks but keeps their results."""

from __future__ import annotations

import pytest
import torch

from tuner.fast.lean_steps import install_lean_train_mode, install_lean_zero_grad, trainable_parameters


def _model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.Sequential(torch.nn.Linear(4, 2)))
    model[0].weight.requires_grad_(False)
    return model


def test_train_mode_is_restored_even_after_a_submodule_was_switched_directly():
    model = _model()
    install_lean_train_mode(model)
    model.train()
    assert all(m.training for m in model.modules())
    model.eval()  # through the patched train(False)
    assert not any(m.training for m in model.modules())
    model.train()
    model[1].eval()  # behind the root's back: the flat check notices and walks again
    model.train()
    assert all(m.training for m in model.modules())


def test_train_mode_walks_the_modules_only_when_one_is_in_the_other_mode():
    walks = []

    class Counted(torch.nn.Linear):
        def train(self, mode: bool = True):
            walks.append(mode)
            return super().train(mode)

    model = torch.nn.Sequential(Counted(2, 2), torch.nn.ReLU())
    install_lean_train_mode(model)
    model.train()
    model.train()  # every step calls this: already in training mode, nothing to walk
    assert walks == []
    model.eval()
    model.train()
    assert walks == [False, True]


def test_zero_grad_clears_every_gradient_the_step_made():
    model = _model()
    params = trainable_parameters(model)
    assert all(p is not model[0].weight for p in params) and len(params) == 3
    install_lean_zero_grad(model, params)
    model(torch.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in params)
    walk = model.parameters
    model.parameters = lambda *args, **kwargs: pytest.fail("zero_grad walked every parameter")
    model.zero_grad()
    model.parameters = walk
    assert all(p.grad is None for p in model.parameters())
    model(torch.randn(3, 4)).sum().backward()
    model.zero_grad(set_to_none=False)  # the old behaviour on request
    assert all(p.grad is not None and not p.grad.any() for p in params)
