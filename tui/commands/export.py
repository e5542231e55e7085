"""`hearth convert | quantize | export-lora | verify | export`: GGUF files from a model or a run.

Each runs the exporter as a child process (`python -m exporter …`) and draws its events; llama.cpp's
own logging stays in the child unless `--verbose`. `verify` and `export` exit 1 when a parity check
fails, 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console(highlight=False)


def _job(args: list[str], title: str) -> dict:
    from tui.progress import run_job

    return run_job("exporter", args, title)


def convert(args) -> int:
    extra = ["--pre-tokenizer", args.pre_tokenizer] if args.pre_tokenizer else []
    done = _job(["convert", str(args.model_dir), str(args.out), "--outtype", args.outtype, *extra], "convert")
    console.print(f"wrote {done['path']}")
    return 0


def quantize(args) -> int:
    done = _job(["quantize", str(args.src), str(args.dst), "--type", args.type], "quantize")
    console.print(done["summary"])
    return 0


def _run_or_dir(value: str) -> str:
    from hearth.paths import resolve_run

    return str(Path(value) if Path(value).is_dir() else resolve_run(value).root)


def export_lora(args) -> int:
    done = _job(["export-lora", _run_or_dir(args.adapter), str(args.out)], "export-lora")
    console.print(f"wrote {done['path']} (alpha {done['alpha']:g}, rank {', '.join(map(str, done['ranks']))}, "
                  f"{done['tensors']} tensors)")
    return 0


def verify(args) -> int:
    from exporter.export_report import FileReport
    from exporter.verify import summary_lines

    report = FileReport.from_json(_job(["verify", str(args.model_dir), str(args.gguf)], "verify"))
    for line in summary_lines(report):
        console.print(f"  {line}")
    console.print("[green]parity passed[/]" if report.passed else "[bold red]parity FAILED[/]")
    return 0 if report.passed else 1


def export(args) -> int:
    from exporter.export import export_args, summary_text
    from exporter.export_report import ExportReport
    from hearth.paths import resolve_run

    run = resolve_run(args.run)
    if not (run.merged / "config.json").is_file() and (run.adapter / "adapter_config.json").is_file():
        # What a user means by "export this run": merge first, as `hearth merge` would.
        from tuner.merge import merge_run

        with console.status(f"merging the adapter of {run.root.name} into its base first"):
            console.print(f"merged model: {merge_run(run)}")
    report = ExportReport.from_json(_job(export_args(run.root, args.quant, lora=args.lora,
                                                     serving=_serving(args, run)), "export"))
    console.print(summary_text(report))
    if report.ollama:
        console.print(f"run it in Ollama: {report.ollama}")
    return 0 if report.passed else 1


def _serving(args, run) -> str:
    """The Modelfile's sampling settings (chat's, or a --settings file) and, with --persona, its prompt and greeting."""
    from companion.serving import serving_json
    from companion.settings import EngineSettings

    settings = EngineSettings.from_yaml(args.settings) if args.settings else None
    return serving_json(run.root, persona=args.persona, settings=settings or EngineSettings())


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="a Hugging Face model directory to a GGUF file")
    p.add_argument("model_dir", type=Path)
    p.add_argument("out", type=Path, help="the .gguf file to write")
    p.add_argument("--outtype", choices=("f32", "f16", "bf16", "q8_0"), default="f16")
    p.add_argument("--pre-tokenizer", help="llama.cpp pre-tokenizer name, when hearth cannot tell it from the regex")
    p.set_defaults(func=convert)

    p = subparsers.add_parser("quantize", help="quantize a GGUF file with llama.cpp's quantizer")
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--type", required=True, choices=("q4_k_m", "q5_k_m", "q6_k", "q8_0", "f16", "bf16"))
    p.set_defaults(func=quantize)

    p = subparsers.add_parser("export-lora", help="a run's (or a directory's) PEFT adapter to a GGUF LoRA")
    p.add_argument("adapter", help="run id, run directory, or PEFT adapter directory")
    p.add_argument("out", type=Path)
    p.set_defaults(func=export_lora)

    p = subparsers.add_parser("verify", help="check a GGUF file against its Hugging Face model")
    p.add_argument("model_dir", type=Path)
    p.add_argument("gguf", type=Path)
    p.set_defaults(func=verify)

    p = subparsers.add_parser("export", help="a run to f16 + quantized GGUF, a Modelfile and a fidelity report")
    p.add_argument("run", help="run id or run directory")
    p.add_argument("--quant", default="q8_0", help="comma-separated: q4_k_m,q5_k_m,q6_k,q8_0,f16,bf16")
    p.add_argument("--lora", action="store_true", help="also write the adapter as a GGUF LoRA")
    p.add_argument("--persona", help="write this persona's system prompt and greeting into the Modelfile")
    p.add_argument("--settings", type=Path, help="chat settings YAML whose sampling and context go into the Modelfile")
    p.set_defaults(func=export)
