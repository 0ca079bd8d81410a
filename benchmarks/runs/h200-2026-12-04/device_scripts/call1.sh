#!/bin/bash
# Device call 1 of 2026-12-04: the GPU-only dense-kernel test failure (diagnosis); the Sage kernel and 03h's
# probe variants with the SM clock and power sampled (plus two softmax stand-ins); the 14B-480p table with
# 03h's kernels (last run before them).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts
D=benchmarks/runs/h200-2026-12-04/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv > $OUT/call1_gpu.txt
python -c "import torch, triton; print(torch.__version__, triton.__version__)" >> $OUT/call1_gpu.txt
cat $OUT/call1_gpu.txt
timeout 150 python -u $D/dense_fp8_diag.py $OUT/call1_dense_fp8_diag.json > $OUT/call1_dense_fp8_diag.log 2>&1
tail -n 16 $OUT/call1_dense_fp8_diag.log
for C in cheap noexp halfpoly; do
  timeout 150 python -u $D/sage_clock_probe.py $OUT/call1_sage_clock_$C.json $C > $OUT/call1_sage_clock_$C.log 2>&1
  tail -n 20 $OUT/call1_sage_clock_$C.log
done
timeout 220 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call1_e2e_14b_480p.json > $OUT/call1_e2e_14b_480p.log 2>&1
tail -n 12 $OUT/call1_e2e_14b_480p.log
