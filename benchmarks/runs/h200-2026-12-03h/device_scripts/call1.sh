#!/bin/bash
# Device call 1 of 2026-12-03h (at 657d349 + sage_probe.py): what bounds the sm_90 sparse Sage kernel (one
# resource taken away at a time); the 14B-480p table (last run in 03e); the GPU-only dense-kernel test that
# failed in 03f.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03h/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call1_gpu.txt
timeout 150 python -u $D/sage_probe.py $OUT/call1_sage_probe.json > $OUT/call1_sage_probe.log 2>&1
tail -n 5 $OUT/call1_sage_probe.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call1_e2e_14b_480p.json > $OUT/call1_e2e_14b_480p.log 2>&1
tail -n 12 $OUT/call1_e2e_14b_480p.log
timeout 120 python -m pytest -x -q tests/attention/test_sage.py -k "dense_kernel_matches_the_lossy_reference" \
  > $OUT/call1_gpu_tests.log 2>&1
tail -n 30 $OUT/call1_gpu_tests.log
