#!/bin/bash
# Device call 2 of 2026-12-03d: the Gluon Sage kernel with SageSLA's linear branch in its epilogue (no
# linear_branch_triton launch on sm_90) and the head's norm + fp32 modulation in one kernel: GPU tests, the
# 1.3B table, the 1.3B forward's profile (CUDA graph).
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 150 python -u -m pytest -v -p no:cacheprovider tests/attention/test_sage_wgmma.py \
  tests/attention/test_sage.py tests/ops/test_norm_modulate.py tests/models/test_dit_fused.py \
  -k "wgmma or sagesla or premultiplied or head" > $OUT/call2_gpu_tests.log 2>&1
tail -n 5 $OUT/call2_gpu_tests.log
timeout 240 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call2_e2e_1.3b_480p.json > $OUT/call2_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call2_e2e_1.3b.log
timeout 120 python -u benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call2_profile_graph_1.3b.json > $OUT/call2_profile.log 2>&1
tail -n 8 $OUT/call2_profile.log
