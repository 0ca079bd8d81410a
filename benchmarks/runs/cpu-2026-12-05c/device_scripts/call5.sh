#!/bin/bash
# With what was left of 05c's device time: part 2 of 05's call 1 only (the default model on the GPU, warm:
# SLA's Triton kernels against its reference), its MiniLM stand-in built first. Run with carry [".minilm"].
set -x
PYTHONPATH=. python3 benchmarks/runs/cpu-2026-12-05/device_scripts/minilm_stub.py .minilm /tmp/site || exit
export PYTHONPATH=/tmp/site:.:benchmarks
timeout 200 python -u benchmarks/runs/cpu-2026-12-05/device_scripts/builtin_gpu.py \
  --json $OUT/builtin_gpu.json > $OUT/builtin_gpu.log 2>&1
tail -n 16 $OUT/builtin_gpu.log
