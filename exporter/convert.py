"""Hugging Face model directory (safetensors) → GGUF file, in-process, streaming.

The file's layout is planned first (every tensor's name, shape and type are known from the
safetensors headers), the header, metadata and tensor index are written, then each tensor's data is
read, transformed and written in blocks of rows. Peak memory stays near one block plus the
tokenizer, not the model. The file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import gguf
import numpy as np

from exporter.architectures import (
    ArchSpec,
    HFConfig,
    arch_for,
    gguf_tensor_name,
    load_config,
    metadata_values,
    norm_offset,
    permute_rows,
    qk_permutation_heads,
    rope_tensors,
)
from exporter.config_check import check_config
from exporter.tensors import SourceTensor, model_tensors
from exporter.vocab import GGUFVocab, load_vocab
from hearth.atomic import atomic_path
from hearth.errors import UserError

Q = gguf.GGMLQuantizationType


@dataclass(frozen=True)
class OutType:
    matrix_type: Q  # type of 2-D weights; 1-D tensors (norms, biases) stay F32
    file_type: gguf.LlamaFileType
    fallback: Q  # for rows the matrix type cannot hold (length not a multiple of its block)


OUTTYPES: dict[str, OutType] = {
    "f32": OutType(Q.F32, gguf.LlamaFileType.ALL_F32, Q.F32),
    "f16": OutType(Q.F16, gguf.LlamaFileType.MOSTLY_F16, Q.F16),
    "bf16": OutType(Q.BF16, gguf.LlamaFileType.MOSTLY_BF16, Q.BF16),
    "q8_0": OutType(Q.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0, Q.F16),
}

F16_MAX = 65504.0


@dataclass
class TensorJob:
    """One tensor of the output file: where its values come from and how they are stored."""

    name: str
    shape: tuple[int, ...]
    qtype: Q
    blocks: Callable[[], Iterator[np.ndarray]]  # float32 row blocks, already transformed

    @property
    def nbytes(self) -> int:
        block, type_size = gguf.GGML_QUANT_SIZES[self.qtype]
        return int(np.prod(self.shape, dtype=np.int64)) // block * type_size


def convert_hf_to_gguf(model_dir, out_path, outtype: str = "f16", *, pre_tokenizer: str | None = None,
                       name: str | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Convert a Hugging Face model directory to one GGUF file; returns the output path."""
    model_dir, out_path = Path(model_dir), Path(out_path)
    if outtype not in OUTTYPES:
        raise UserError(f"unknown --outtype '{outtype}'; choose one of {', '.join(OUTTYPES)}")
    config = load_config(model_dir)
    spec = arch_for(config)
    check_config(config, model_tensors(model_dir))  # a config.json the weights contradict: one line, before any work
    vocab = load_vocab(model_dir, config["vocab_size"], pre_tokenizer)
    jobs = plan_tensors(model_dir, spec, config, OUTTYPES[outtype])
    for note in vocab.notes:
        (log or _log.info)(note)
    with atomic_path(out_path) as partial:
        writer = gguf.GGUFWriter(None, spec.name)
        _add_metadata(writer, spec, config, vocab, OUTTYPES[outtype], spec.file_name(name or model_dir.name))
        for job in jobs:
            # numpy (rows, cols) order; the writer stores GGUF's reversed dims itself
            writer.add_tensor_info(job.name, job.shape, np.dtype(np.float32), job.nbytes, raw_dtype=job.qtype)
        writer.write_header_to_file(partial)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        _write_tensor_data(writer, jobs)
        writer.close()
    return out_path


_log = logging.getLogger(__name__)


def _add_metadata(writer: gguf.GGUFWriter, spec: ArchSpec, config: HFConfig, vocab: GGUFVocab,
                  outtype: OutType, name: str) -> None:
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_file_type(outtype.file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for method, value in metadata_values(spec, config):
        getattr(writer, method)(value)
    vocab.add_to(writer)


def plan_tensors(model_dir: Path, spec: ArchSpec, config: HFConfig, outtype: OutType) -> list[TensorJob]:
    """Every output tensor in file order, from the safetensors headers alone (no data read yet)."""
    sources = model_tensors(model_dir)
    n_blocks = config["num_hidden_layers"]
    jobs = [TensorJob(name, values.shape, Q.F32, lambda v=values: iter([v])) for name, values in rope_tensors(config)]
    for hf_name, source in sources.items():
        if hf_name == "lm_head.weight" and _is_tied_copy(config, sources):
            continue  # tied: llama.cpp reuses token_embd; a copy would only add size (Gemma has no place for one)
        name = gguf_tensor_name(spec, n_blocks, hf_name, where=str(source.file))
        if name is None:
            continue
        blocks = _blocks_of(source, qk_permutation_heads(spec, config, name), norm_offset(spec, name))
        jobs.append(TensorJob(name, source.shape, _storage_type(source, outtype), blocks))
    if not any(job.name == "token_embd.weight" for job in jobs):
        raise UserError("the weights have no token embedding (model.embed_tokens.weight)", where=str(model_dir))
    return sorted(jobs, key=_file_order)


def _is_tied_copy(config: HFConfig, sources: dict[str, SourceTensor]) -> bool:
    return config.ties_embeddings and "model.embed_tokens.weight" in sources


def _storage_type(source: SourceTensor, outtype: OutType) -> Q:
    if len(source.shape) < 2:
        return Q.F32  # norms and biases: tiny, and precision-sensitive
    block, _ = gguf.GGML_QUANT_SIZES[outtype.matrix_type]
    return outtype.matrix_type if source.shape[-1] % block == 0 else outtype.fallback


def _blocks_of(source: SourceTensor, permute_heads: int | None, offset: float) -> Callable[[], Iterator[np.ndarray]]:
    if permute_heads is not None:
        # The permutation mixes rows across a head, so this (small) tensor is read whole.
        return lambda: iter([permute_rows(source.read(), permute_heads)])
    if offset:
        return lambda: (block + np.float32(offset) for block in source.row_blocks())
    return source.row_blocks


def _file_order(job: TensorJob) -> tuple:
    """token_embd and friends first, then blocks in numeric order, then the output head."""
    match = re.match(r"blk\.(\d+)\.", job.name)
    if match:
        return (1, int(match.group(1)), job.name)
    return (2 if job.name.startswith("output") else 0, 0, job.name)


def _write_tensor_data(writer: gguf.GGUFWriter, jobs: list[TensorJob]) -> None:
    """Write each tensor block by block at the offsets the tensor index promised."""
    fout = writer.fout[0]
    for job in jobs:
        writer.write_padding(fout, fout.tell())  # each tensor starts aligned
        written = 0
        for block in job.blocks():
            data = _encode(block, job)
            data.tofile(fout)
            written += data.nbytes
        if written != job.nbytes:
            raise RuntimeError(f"{job.name}: wrote {written} bytes, planned {job.nbytes}")
    writer.write_padding(fout, fout.tell())


def _encode(block: np.ndarray, job: TensorJob) -> np.ndarray:
    if job.qtype == Q.F32:
        return np.ascontiguousarray(block, dtype=np.float32)
    if job.qtype == Q.F16:
        peak = float(np.max(np.abs(block))) if block.size else 0.0
        if not np.isfinite(peak) or peak > F16_MAX:
            raise UserError(f"tensor '{job.name}' holds values up to {peak:g}, beyond float16's range; "
                            "convert with --outtype bf16 or f32")
        return block.astype(np.float16)
    return gguf.quants.quantize(block, job.qtype)
