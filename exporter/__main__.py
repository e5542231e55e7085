"""`python -m exporter COMMAND ...`: the exporter as a child process that prints hearth.events.

The `hearth` CLI and the TUI run these and draw the events; a crash or a stuck llama.cpp call
never takes the front end down, and a cancel is a SIGINT that leaves no finished-looking file.
The last event and the exit code say how it ended, as for every job (hearth/job_main.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from hearth.events import emit
from hearth.job_main import job_main


def _convert(args) -> dict:
    from exporter.convert import convert_hf_to_gguf

    emit("stage", message=f"converting {args.model_dir} to {args.outtype} GGUF")
    path = convert_hf_to_gguf(args.model_dir, args.out, args.outtype, pre_tokenizer=args.pre_tokenizer,
                              log=lambda message: emit("warning", message=message))
    emit("saved", path=str(path))
    return {"path": str(path)}


def _quantize(args) -> dict:
    from exporter.quantize import quantize_gguf

    emit("stage", message=f"quantizing {args.src} to {args.type}")
    summary = quantize_gguf(args.src, args.dst, args.type)
    emit("saved", path=str(summary.dst))
    return {"summary": summary.line(), **summary.as_dict()}


def _export_lora(args) -> dict:
    from exporter.lora import export_lora

    emit("stage", message=f"writing the LoRA adapter {args.adapter} as GGUF")
    result = export_lora(args.adapter, args.out)
    emit("saved", path=str(result.path))
    return result.as_dict()


def _verify(args) -> dict:
    from exporter.verify import verify_gguf

    return verify_gguf(args.model_dir, args.gguf, emit=emit).to_json()


def _export(args) -> dict:
    from exporter.export import export_run
    from exporter.modelfile import Serving
    from exporter.quantize import parse_quant_types
    from hearth.paths import resolve_run

    serving = Serving(**json.loads(args.serving)) if args.serving else None
    return export_run(resolve_run(args.run), quants=parse_quant_types(args.quant), lora=args.lora, emit=emit,
                      serving=serving).to_json()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exporter")
    sub = parser.add_subparsers(dest="job", required=True)
    p = sub.add_parser("convert")
    p.add_argument("model_dir")
    p.add_argument("out")
    p.add_argument("--outtype", default="f16")
    p.add_argument("--pre-tokenizer", default=None)
    p.set_defaults(func=_convert)
    p = sub.add_parser("quantize")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--type", required=True)
    p.set_defaults(func=_quantize)
    p = sub.add_parser("export-lora")
    p.add_argument("adapter")
    p.add_argument("out")
    p.set_defaults(func=_export_lora)
    p = sub.add_parser("verify")
    p.add_argument("model_dir")
    p.add_argument("gguf")
    p.set_defaults(func=_verify)
    p = sub.add_parser("export")
    p.add_argument("run")
    p.add_argument("--quant", default="q8_0")
    p.add_argument("--lora", action="store_true")
    p.add_argument("--serving", help="JSON: sampling settings, system prompt and greeting for the Modelfile")
    p.set_defaults(func=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    return job_main(build_parser(), lambda args: args.func(args), argv)


if __name__ == "__main__":
    sys.exit(main())
