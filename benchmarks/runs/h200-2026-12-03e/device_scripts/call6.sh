#!/bin/bash
# Device call 6 of 2026-12-03e (call 4 met a Triton 3.6 compile error: a jitted helper's string default
# argument; call 5 was refused a machine): GPU tests of the row quantiser with its fewer-instruction GELU
# and first pass, its sweep against the kernel before (row_quant_before.py), the 1.3B table.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 60 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/quant/test_fp8_row_linear.py \
  > $OUT/call6_gpu_tests.log 2>&1
tail -n 3 $OUT/call6_gpu_tests.log
PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03e/device_scripts timeout 100 python -u \
  benchmarks/runs/h200-2026-12-03e/device_scripts/norm_sweep.py $OUT/call6_row_quant_sweep.json --row-quant-only \
  > $OUT/call6_row_quant_sweep.log 2>&1
cut -c1-260 $OUT/call6_row_quant_sweep.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call6_e2e_1.3b_480p.json > $OUT/call6_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call6_e2e_1.3b.log
