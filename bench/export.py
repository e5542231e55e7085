"""GGUF conversion speed and memory on a randomly initialised Qwen2.5-0.5B-shaped model.

Builds the model on the spot (bf16 safetensors, ~0.99 GB, tied embeddings, 151,936-entry
vocabulary), then times `python -m exporter convert MODEL OUT --outtype f16` in a child process and
reads its peak RSS from the kernel (wait4). Baselines from the same run: copying the same
safetensors bytes (the disk floor for the time) and the peak RSS of a child that only imports the
converter (the interpreter floor for the memory).

    .venv/bin/python bench/export.py [--outtype f16] [--keep DIR]

Targets on the 2-core CPU machine: f16 conversion under 10 s and under 1.3 GB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QWEN25_05B = dict(
    vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
    rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
)
TARGET_SECONDS = 10.0
TARGET_RSS_GB = 1.3


def build_model(out: Path) -> Path:
    """Random bf16 weights with Qwen2.5-0.5B's shapes, written tensor by tensor (no full model in RAM)."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tuner.tiny_base import train_tokenizer, bundled_texts

    config = Qwen2Config(**QWEN25_05B, dtype="bfloat16", architectures=["Qwen2ForCausalLM"])
    with torch.device("meta"):
        shapes = {name: p.shape for name, p in Qwen2ForCausalLM(config).state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for name, shape in shapes.items():
        if name == "lm_head.weight":
            continue  # tied
        if name.endswith("norm.weight"):
            tensors[name] = torch.ones(shape, dtype=torch.bfloat16)
        else:
            tensors[name] = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    del tensors
    config.save_pretrained(out)
    train_tokenizer(bundled_texts(), 4096).save_pretrained(out)
    return out


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of a child command, from the kernel's accounting."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux


def copy_seconds(src: Path, dst: Path) -> float:
    started = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 16 * 1024 * 1024)
        fout.flush()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outtype", default="f16")
    parser.add_argument("--keep", type=Path, help="build the model here and keep it (reused when present)")
    parser.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build_model(args.build_only)
        return 0
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-export-"))
    model_dir = args.keep or work / "model"
    try:
        if not (model_dir / "model.safetensors").is_file():
            print("building a random Qwen2.5-0.5B-shaped model (bf16)…", flush=True)
            # In a child: a forked child's peak RSS counts its parent's pages, so this process stays small.
            subprocess.run([sys.executable, __file__, "--build-only", str(model_dir)], check=True)
        weights = model_dir / "model.safetensors"
        out = work / f"model-{args.outtype}.gguf"
        py = sys.executable
        wall, rss = measure([py, "-m", "exporter", "convert", str(model_dir), str(out), "--outtype", args.outtype])
        floor_wall = copy_seconds(weights, work / "copy.bin")
        _, floor_rss = measure([py, "-c", "import exporter.convert"])
        print(f"source: {weights.stat().st_size / 1e9:.2f} GB bf16 safetensors; "
              f"output: {out.stat().st_size / 1e9:.2f} GB {args.outtype} GGUF; {os.cpu_count()} CPUs")
        print(f"conversion wall time : {wall:6.2f} s   (copying the same bytes: {floor_wall:.2f} s, "
              f"ratio {wall / max(floor_wall, 1e-9):.2f}x)   target < {TARGET_SECONDS:.0f} s: "
              f"{'met' if wall < TARGET_SECONDS else 'MISSED'}")
        print(f"conversion peak RSS  : {rss:6.2f} GB  (importing the converter only: {floor_rss:.2f} GB, "
              f"ratio {rss / max(floor_rss, 1e-9):.2f}x)   target < {TARGET_RSS_GB} GB: "
              f"{'met' if rss < TARGET_RSS_GB else 'MISSED'}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
