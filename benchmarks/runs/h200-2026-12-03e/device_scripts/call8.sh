#!/bin/bash
# Device call 8 of 2026-12-03e: the FFN quantiser's new default (one row of 2,048-column steps on 4 warps,
# from call 6's sweep; the one-read head + tail schedule removed): GPU tests and the 1.3B table.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 45 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/quant/test_fp8_row_linear.py \
  > $OUT/call8_gpu_tests.log 2>&1
tail -n 3 $OUT/call8_gpu_tests.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call8_e2e_1.3b_480p.json > $OUT/call8_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call8_e2e_1.3b.log
