"""`hearth eval` and the TUI's eval screen start the same child: eval_args is what `python -m tuner eval` parses
back, each option as given, and the child's defaults where nothing is."""

from __future__ import annotations

from tuner.__main__ import build_parser
from tuner.evaluate.run import eval_args


def test_every_option_reaches_the_child_as_given():
    args = build_parser().parse_args(eval_args("/runs/r1", prompts=2, seed=5, prompts_file="p.jsonl",
                                               ggufs=["a.gguf", "b.gguf"], quants=["q4_k_m", "q8_0"],
                                               max_tokens=40, loss_tokens=512))
    assert (args.job, args.run, args.n, args.seed, args.prompts) == ("eval", "/runs/r1", 2, 5, "p.jsonl")
    assert (args.gguf, args.quant, args.max_tokens, args.loss_tokens) == (["a.gguf", "b.gguf"], "q4_k_m,q8_0", 40, 512)


def test_nothing_given_is_the_childs_defaults():
    given, default = build_parser().parse_args(eval_args("/runs/r1")), build_parser().parse_args(["eval", "/runs/r1"])
    assert vars(given) == vars(default)
