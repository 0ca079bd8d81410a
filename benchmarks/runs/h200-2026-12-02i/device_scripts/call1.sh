#!/bin/bash
# Device call 1 of 2026-12-02i: GPU tests of the attention kernels, the attention-prep/norm sweep, the 1.3B
# table and the 1.3B profile of the fast FP8 row.
set -x
W=/tmp/w1; mkdir -p $W
export PYTHONPATH=.
timeout 150 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py tests/attention/test_sla_kernel.py \
  tests/attention/test_sla_block_map.py > $W/gpu_tests.log 2>&1
timeout 200 python benchmarks/runs/h200-2026-12-02i/device_scripts/attention_prep_sweep.py $W/sweep.json > $W/sweep.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 3 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_1.3b_480p.json \
  > $W/e2e_1.3b.log 2>&1
timeout 100 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused \
  --json $W/profile_1.3b.json > $W/profile.log 2>&1
echo done > $W/DONE
