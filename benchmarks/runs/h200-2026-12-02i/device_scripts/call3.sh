#!/bin/bash
# Device call 3 of 2026-12-02i (machine still warm after call 2 and its test follow-ups, same tree at
# 436f8fd): the A14B i2v 720p rows.
PYTHONPATH=. timeout 420 python benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p \
  --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/e2e_a14b_720p.json > $OUT/e2e_a14b_720p.log 2>&1
