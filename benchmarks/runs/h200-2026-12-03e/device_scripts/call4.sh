#!/bin/bash
# Device call 4 of 2026-12-03e: the FFN row quantiser with its fewer-instruction GELU and first pass (against
# the kernel before, row_quant_before.py) and the norm kernels' launch sweep, then the 14B-720p table.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 60 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/quant/test_fp8_row_linear.py \
  > $OUT/call4_gpu_tests.log 2>&1
tail -n 3 $OUT/call4_gpu_tests.log
PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03e/device_scripts timeout 230 python -u benchmarks/runs/h200-2026-12-03e/device_scripts/norm_sweep.py $OUT/call4_norm_sweep.json \
  > $OUT/call4_norm_sweep.log 2>&1
tail -n 3 $OUT/call4_norm_sweep.log | cut -c1-300
timeout 210 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call4_e2e_14b_720p.json > $OUT/call4_e2e_14b_720p.log 2>&1
tail -n 12 $OUT/call4_e2e_14b_720p.log
