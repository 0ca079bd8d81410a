#!/bin/bash
# Device call 2 of 2026-12-02g: GPU tests of the attention paths, the linear-branch sweep with the looping
# linear kernel (the default is the standalone kernel, mode 3), the 1.3B profile and the 1.3B e2e rows.
set -x
W=/tmp/w2; mkdir -p $W
export PYTHONPATH=.
timeout 200 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py tests/attention/test_sla_kernel.py \
  tests/attention/test_sla_golden.py > $W/gpu_tests.log 2>&1
timeout 150 python benchmarks/runs/h200-2026-12-02g/device_scripts/sweep2.py $W/sweep2.json > $W/sweep2.log 2>&1
timeout 120 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fused --json $W/profile_1.3b.json \
  > $W/profile.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,+graph,turbo-bf16 --reps 3 --base-reps 1 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_1.3b_480p.json > $W/e2e_1.3b.log 2>&1
echo done > $W/DONE
