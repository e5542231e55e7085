#!/usr/bin/env bash
# What a lent GPU machine should confirm, in calls that each fit a 10-minute window.
#
#   bench/gpu_check.sh small [OUT_DIR]   # GPU tests; 0.5B: TRL vs hearth (compiled layers) vs hearth eager
#   bench/gpu_check.sh large [OUT_DIR]   # 7B: TRL vs hearth bf16 (compiled) vs QLoRA
#   bench/gpu_check.sh overhead [OUT_DIR]  # per-step overhead, eager vs compiled (bench/step_overhead.py)
#
# Results land in OUT_DIR (default bench-results/): JSON lines per side plus the logs; copy the
# tables into docs/benchmarks.md with the date and the GPU. Each step has its own time limit, so
# one slow side cannot cost the others their numbers.
set -u
part=${1:?usage: bench/gpu_check.sh small|large|overhead [OUT_DIR]}
out=${2:-bench-results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
# speed TOTAL_S PER_SIDE_S ARGS...: one bench/train_speed.py invocation (sides in the same invocation share the baseline)
speed() { timeout "$1" python3 bench/train_speed.py --out "$out/train_speed.jsonl" --timeout "$2" "${@:3}" 2>&1 | tee -a "$out/train_speed.log" | grep -v '^{'; }

case $part in
small)
    timeout 120 python3 -m pytest tests/tuner/fast -m gpu -q -p no:cacheprovider 2>&1 | tail -5 | tee "$out/gpu-tests.log"
    speed 450 200 --shapes 0.5b --sides trl,hearth,hearth-eager
    ;;
overhead)
    timeout 300 python3 bench/step_overhead.py 2>&1 | grep -v '^{' | tail -9 | tee "$out/step_overhead.log"
    ;;
large)
    speed 560 240 --shapes 7b --sides trl,hearth,hearth-qlora
    ;;
*)
    echo "usage: bench/gpu_check.sh small|large|overhead [OUT_DIR]" >&2
    exit 2
    ;;
esac
