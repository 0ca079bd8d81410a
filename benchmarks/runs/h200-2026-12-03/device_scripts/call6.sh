#!/bin/bash
# Device call 6 of 2026-12-03 (at 7ac8493's code): the 1.3B FP8-fast row with the K/V summary's exp2 + one
# reciprocal a row, in what device time was left (one timed loop after the untimed one).
set -x
export PYTHONPATH=.
timeout 150 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call6_e2e_1.3b_480p.json > $OUT/call6_e2e_1.3b.log 2>&1
