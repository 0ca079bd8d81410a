#!/bin/bash
# Device call 2 of 2026-12-02i: GPU tests of the changed kernels, the 1.3B table and profile, then the 14B
# tables (720p, 480p).
set -x
W=/tmp/w2; mkdir -p $W
export PYTHONPATH=.
timeout 120 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py tests/attention/test_sla_kernel.py \
  tests/attention/test_sla_block_map.py tests/quant/test_row_quant.py tests/quant/test_fp8_row_linear.py \
  tests/ops/test_norm_modulate.py tests/models/test_dit_fused.py > $W/gpu_tests.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 3 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_1.3b_480p.json \
  > $W/e2e_1.3b.log 2>&1
timeout 80 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused \
  --json $W/profile_1.3b.json > $W/profile.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_720p.json \
  > $W/e2e_14b_720p.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 2 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_480p.json \
  > $W/e2e_14b_480p.log 2>&1
echo done > $W/DONE
