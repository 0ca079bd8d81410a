#!/bin/bash
# Device call 3 of 2026-12-02h: the 14B tables (720p, then 480p) with the FP8 row-wise Turbo rows.
set -x
W=/tmp/w3; mkdir -p $W
export PYTHONPATH=.
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_720p.json \
  > $W/e2e_14b_720p.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_480p.json \
  > $W/e2e_14b_480p.log 2>&1
echo done > $W/DONE
