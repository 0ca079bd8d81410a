#!/bin/bash
# Device call 5 of 2026-12-03e (call 4's machine and tree): the 14B-480p table.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 190 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call5_e2e_14b_480p.json > $OUT/call5_e2e_14b_480p.log 2>&1
tail -n 12 $OUT/call5_e2e_14b_480p.log
