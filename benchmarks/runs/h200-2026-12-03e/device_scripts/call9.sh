#!/bin/bash
# Device call 9 of 2026-12-03e (call 8's machine and tree): the 14B-480p table (run as this one command).
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 2 --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call9_e2e_14b_480p.json > $OUT/call9_e2e_14b_480p.log 2>&1
tail -n 12 $OUT/call9_e2e_14b_480p.log
