#!/bin/bash
# Device call 4 of 2026-12-03 (same tree as call 3): the 14B tables at 720p and 480p.
export PYTHONPATH=.
for res in 720p 480p; do
  timeout 280 python benchmarks/e2e.py wan2.1-t2v-14b --resolution $res \
    --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
    --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call4_e2e_14b_$res.json > $OUT/call4_e2e_14b_$res.log 2>&1
done
