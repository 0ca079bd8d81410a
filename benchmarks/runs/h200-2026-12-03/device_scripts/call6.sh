#!/bin/bash
# Device call 6 of 2026-12-03 (at 7ac8493): the 1.3B FP8 rows with the K/V summary's exp2 + one reciprocal a
# row, then its GPU tests while device time lasts.
set -x
export PYTHONPATH=.
timeout 170 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call6_e2e_1.3b_480p.json > $OUT/call6_e2e_1.3b.log 2>&1
timeout 60 python -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py tests/attention/test_sage.py \
  -k "summarize or sagesla" > $OUT/call6_gpu_tests.log 2>&1
