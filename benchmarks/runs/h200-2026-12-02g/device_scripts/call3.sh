#!/bin/bash
# Device call 3 of 2026-12-02g (landed code): GPU tests of the SageSLA and linear-branch paths, then the
# A14B i2v and 14B t2v 720p tables.
set -x
W=/tmp/w3; mkdir -p $W
export PYTHONPATH=.
timeout 150 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py tests/attention/test_sla_kernel.py \
  -k "sagesla or linear_branch or quantiser" > $W/gpu_tests.log 2>&1
python benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p --rows baseline,+graph,turbo-bf16 --reps 2 --base-reps 1 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_a14b_720p.json > $W/e2e_a14b_720p.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --rows baseline,+graph,turbo-bf16 --reps 2 --base-reps 1 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_720p.json > $W/e2e_14b_720p.log 2>&1
echo done > $W/DONE
