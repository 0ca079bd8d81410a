#!/bin/bash
# Device call 3 of 2026-12-03d (call 2's machine): the 14B tables with call 2's tree.
set -x
export PYTHONPATH=. TRITON_DEFAULT_FP_FUSION=1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call3_e2e_14b_720p.json > $OUT/call3_e2e_14b_720p.log 2>&1
tail -n 12 $OUT/call3_e2e_14b_720p.log
timeout 185 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call3_e2e_14b_480p.json > $OUT/call3_e2e_14b_480p.log 2>&1
tail -n 12 $OUT/call3_e2e_14b_480p.log
