#!/bin/bash
# Device call 3 of 2026-12-03g: the row quantiser with whole rows as two tiles against the kernel at 8fcf703
# (launch sweep, then whole forwards); the 1.3B-480p and 14B-720p tables with the matmul ceilings taken as
# the best over three products (common.CEILING_SHAPES, FP8 with row-wise scales). The call ran with
# row_quant_tiles.py's kernel in turbodiffusion/quant/row_quant/kernel.py and the A/B arm
# "row_quant_at_8fcf703" (a copy of the kernel the tree holds again); the A/B line below is today's equivalent.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03g/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03g/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call3_gpu.txt
timeout 60 python -u $D/row_quant_sweep.py $OUT/call3_row_quant_sweep.json > $OUT/call3_row_quant_sweep.log 2>&1
tail -n 20 $OUT/call3_row_quant_sweep.log
timeout 140 python -u $D/forward_ab.py $OUT/call3_forward_ab.json row_quant_tiles > $OUT/call3_forward_ab.log 2>&1
tail -n 2 $OUT/call3_forward_ab.log
timeout 165 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call3_e2e_1.3b_480p.json > $OUT/call3_e2e_1.3b.log 2>&1
tail -n 26 $OUT/call3_e2e_1.3b.log
timeout 210 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call3_e2e_14b_720p.json > $OUT/call3_e2e_14b_720p.log 2>&1
tail -n 12 $OUT/call3_e2e_14b_720p.log
