#!/bin/bash
# Device call 2 of h100-2026-12-05b: the default model's first generation on a warm Triton cache took 5.3 s
# against 0.07 s for the second (cold_start.py --preset builtin, queue item builtin_gpu): first_call.py twice
# on one cache folder, the second profiled; then builtin_gpu.py (its SageSLA lookup fixed). Run with carry
# [".minilm"].
set -x
PYTHONPATH=. python3 benchmarks/runs/cpu-2026-12-05/device_scripts/minilm_stub.py .minilm /tmp/site || exit
export PYTHONPATH=/tmp/site:. TRITON_CACHE_DIR=/tmp/first_call_cache
timeout 120 python -u benchmarks/runs/h100-2026-12-05b/device_scripts/first_call.py > $OUT/first_call_cold.log 2>&1
head -n 3 $OUT/first_call_cold.log
timeout 120 python -u benchmarks/runs/h100-2026-12-05b/device_scripts/first_call.py > $OUT/first_call_warm.log 2>&1
head -n 80 $OUT/first_call_warm.log
timeout 100 python -u benchmarks/runs/cpu-2026-12-05/device_scripts/builtin_gpu.py \
  --json $OUT/builtin_gpu.json > $OUT/builtin_gpu.log 2>&1
tail -n 18 $OUT/builtin_gpu.log
