#!/bin/bash
# For the next GPU machine: the 14B-480p e2e table at the current tree (its last: h200-2026-12-04, 3.597 s
# turbo-fp8-fast), with that run's command.
set -x
export PYTHONPATH=.:benchmarks
timeout 330 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 2 --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/e2e_14b_480p.json > $OUT/e2e_14b_480p.log 2>&1
tail -n 12 $OUT/e2e_14b_480p.log
