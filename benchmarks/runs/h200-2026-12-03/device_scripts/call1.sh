#!/bin/bash
# Device call 1 of 2026-12-03: the sparse Sage kernel's costs and SageSLA's block pairs (sweep), then the
# 1.3B FP8-fast row at both block pairs. Outputs go straight to $OUT.
set -x
export PYTHONPATH=.
D=benchmarks/runs/h200-2026-12-03/device_scripts
timeout 260 python $D/sage_blocks_sweep.py $OUT/call1_sage_blocks_sweep.json > $OUT/call1_sweep.log 2>&1
for blocks in 64,128 128,64; do
  timeout 120 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8-fast --reps 3 \
    --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --sagesla-blocks $blocks \
    --json $OUT/call1_e2e_1.3b_${blocks/,/x}.json > $OUT/call1_e2e_1.3b_${blocks/,/x}.log 2>&1
done
