#!/bin/bash
# GPU call 4 of gpu-2026-12-06d: the A14B i2v 720p Turbo row end to end (image encode, text, loop, decode in
# chunks of 12) with e2e.py's default (no cuBLASLt workspace, as `generate` runs) and with
# --keep-cublaslt-workspace, one process each: the A14B table row under the new default, and a second
# 720p-shape A/B (one expert's forwards are a 14B-720p DiT's with 36 input channels).
export PYTHONPATH=.:benchmarks
for arm in none keep; do
  flag=""; [ $arm = keep ] && flag=--keep-cublaslt-workspace
  s=$(date +%s)
  timeout 250 python benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p --rows turbo-fp8-fast --reps 2 \
    --base-reps 1 --loops final --loop-reps 1 --stage-reps 3 --vae-chunk-latents 12 $flag \
    --json $OUT/e2e_a14b_720p_${arm}.json > $OUT/e2e_a14b_720p_${arm}.log 2>&1
  echo "$arm rc $? $(( $(date +%s) - s ))s"; tail -n 10 $OUT/e2e_a14b_720p_${arm}.log | cut -c1-300
done
