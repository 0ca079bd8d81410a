#!/bin/bash
# Device call 2 of 2026-12-03g: the adopted RoPE launch rule (one row a program) and the two-tile fused norms
# in whole forwards against both kernels at 8fcf703; GPU tests of both norms; the 1.3B-480p and 14B-720p tables
# (the first with the fast-accumulation FP8 ceiling).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03g/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03g/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call2_gpu.txt
timeout 170 python -u $D/forward_ab.py $OUT/call2_forward_ab.json at_8fcf703 > $OUT/call2_forward_ab.log 2>&1
tail -n 2 $OUT/call2_forward_ab.log
timeout 170 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call2_e2e_1.3b_480p.json > $OUT/call2_e2e_1.3b.log 2>&1
tail -n 14 $OUT/call2_e2e_1.3b.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call2_e2e_14b_720p.json > $OUT/call2_e2e_14b_720p.log 2>&1
tail -n 14 $OUT/call2_e2e_14b_720p.log
timeout 50 python -u -m pytest -q -p no:cacheprovider tests/ops/test_rms_norm_rope.py \
  tests/ops/test_norm_modulate.py > $OUT/call2_gpu_tests.log 2>&1
tail -n 3 $OUT/call2_gpu_tests.log
