#!/bin/bash
# Device call 3 of 2026-12-03 (the tree at the commit named in the README): GPU tests of the changed paths,
# the K/V summary's split costs, the 1.3B table (two timed loops after an untimed one) and its profile.
set -x
export PYTHONPATH=.
D=benchmarks/runs/h200-2026-12-03/device_scripts
timeout 100 python -m pytest -q -p no:cacheprovider tests/models/test_dit_fused.py tests/ops/test_norm_modulate.py \
  tests/attention/test_sage.py -k "not dense_kernel" > $OUT/call3_gpu_tests.log 2>&1
PYTHONPATH=.:$D timeout 60 python $D/kv_summary_split.py $OUT/call3_kv_summary_split.json > $OUT/call3_kv.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call3_e2e_1.3b_480p.json > $OUT/call3_e2e_1.3b.log 2>&1
timeout 70 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused \
  --json $OUT/call3_profile_1.3b.json > $OUT/call3_profile.log 2>&1
