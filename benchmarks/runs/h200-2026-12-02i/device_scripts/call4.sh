#!/bin/bash
# Device call 4 of 2026-12-02i (fresh machine, the tree at the commit named in the README): GPU tests of
# the fused residual + norm and the fewer-launch attention prep, the 1.3B table and its profile. Outputs go
# straight to $OUT so that a cut-off run still returns what it finished.
set -x
export PYTHONPATH=.
timeout 70 python -m pytest -q -p no:cacheprovider tests/ops/test_norm_modulate.py tests/models/test_dit_fused.py \
  tests/attention/test_sla_block_map.py tests/attention/test_sage.py -k "not dense_kernel and not sparse" \
  > $OUT/call4_gpu_tests.log 2>&1
timeout 60 python -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py -k summarize \
  >> $OUT/call4_gpu_tests.log 2>&1
timeout 150 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 3 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call4_e2e_1.3b_480p.json \
  > $OUT/call4_e2e_1.3b.log 2>&1
timeout 70 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused \
  --json $OUT/call4_profile_1.3b.json > $OUT/call4_profile.log 2>&1
