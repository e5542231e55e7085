"""Per-step bookkeeping that walks the whole model, made to walk only what it needs.

At every optimizer step transformers' Trainer calls `model.train()` (a recursive walk over the
~2,000 modules of a 24-layer PEFT model), counts all parameters again for its FLOPs estimate, and
walks every parameter, frozen ones included, to clip and to zero gradients. Profiled on the 2-core
CPU machine (bench/step_overhead.py, cProfile), those walks took ~60 ms of a ~145 ms step of a
narrow 24-layer model with compiled layers: on a GPU this is CPU time the GPU waits through once the
layers themselves are cheap to launch. Nothing they compute changes during a run, so:

- `model.train(mode)` becomes a flat check of every module's flag, and the full walk (with any
  module's own `train` override) runs only when some module is in the other mode;
- `model.zero_grad()` clears the gradients of the trainable parameters, the only ones that get any;
- the trainer clips over its cached list of trainable parameters and reuses one FLOPs-per-token
  figure (see FastSFTTrainer).
"""

from __future__ import annotations

from types import MethodType

import torch


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [param for param in model.parameters() if param.requires_grad]


def install_lean_train_mode(model: torch.nn.Module) -> None:
    modules = list(model.modules())
    walk = model.train

    def train(self, mode: bool = True):
        if all(module.training is mode for module in modules):
            return self
        return walk(mode)

    model.train = MethodType(train, model)


def install_lean_zero_grad(model: torch.nn.Module, params: list[torch.nn.Parameter]) -> None:
    walk = model.zero_grad

    def zero_grad(self, set_to_none: bool = True) -> None:
        if not set_to_none:
            return walk(set_to_none)
        for param in params:
            param.grad = None

    model.zero_grad = MethodType(zero_grad, model)
