#!/bin/bash
# Device call 5 of 2026-12-02i (the machine call 4 left warm, same tree at 7c43861): the 14B 720p table.
PYTHONPATH=. timeout 270 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call5_e2e_14b_720p.json > $OUT/call5_e2e_14b_720p.log 2>&1
