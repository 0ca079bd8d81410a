#!/bin/bash
# Device call 3 of 2026-12-03e (call 1's machine): after the sweep (row quantiser back to its two-pass
# default for 8960 columns, 8 warps for 16384-lane rows; RoPE norm's launch rule instead of autotuning):
# GPU tests of the RoPE norm and row quantiser, the 1.3B table and the 1.3B forward's profile.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 60 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/ops/test_rms_norm_rope.py \
  > $OUT/call3_gpu_tests.log 2>&1
tail -n 3 $OUT/call3_gpu_tests.log
timeout 270 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call3_e2e_1.3b_480p.json > $OUT/call3_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call3_e2e_1.3b.log
timeout 150 python -u benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call3_profile_graph_1.3b.json > $OUT/call3_profile.log 2>&1
tail -n 8 $OUT/call3_profile.log
