#!/bin/bash
# Device call 5 of 2026-12-04 (at the K/V summary change): the 1.3B-480p and 14B-720p tables.
set -x
export PYTHONPATH=.:benchmarks
timeout 170 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call5_e2e_1.3b_480p.json > $OUT/call5_e2e_1.3b.log 2>&1
tail -n 10 $OUT/call5_e2e_1.3b.log
timeout 250 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call5_e2e_14b_720p.json > $OUT/call5_e2e_14b_720p.log 2>&1
tail -n 10 $OUT/call5_e2e_14b_720p.log
