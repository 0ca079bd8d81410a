#!/bin/bash
# Device call 6 of 2026-12-03h (at 1faedbf: + the Gluon summary's launch from call 5, 3 ring slots, 1 / 4
# programs an SM): its GPU tests, then the 1.3B-480p table.
set -x
export PYTHONPATH=.:benchmarks
export TRITON_DEFAULT_FP_FUSION=1
timeout 60 python -m pytest -q tests/attention/test_kv_summary_wgmma.py > $OUT/call6_gpu_tests.log 2>&1
tail -n 3 $OUT/call6_gpu_tests.log
timeout 170 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call6_e2e_1.3b_480p.json > $OUT/call6_e2e_1.3b.log 2>&1
tail -n 14 $OUT/call6_e2e_1.3b.log
