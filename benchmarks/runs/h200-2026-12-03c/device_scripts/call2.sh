#!/bin/bash
# Device call 2 of 2026-12-03c (tree at the commit named in the README): GPU tests of the Gluon sparse Sage
# kernel, SageSLA and the linear branch (now forming KV W^T in its kernel), the 1.3B profile, then the 14B
# tables at 720p and 480p (the Sage kernel now the Gluon one on sm_90).
set -x
export PYTHONPATH=.
timeout 100 python -u -m pytest -v --durations=10 -p no:cacheprovider tests/attention/test_sage_wgmma.py \
  tests/attention/test_sla_kernel.py tests/attention/test_sage.py -k "wgmma or sm90 or sagesla or linear_branch" \
  > $OUT/call2_gpu_tests.log 2>&1
timeout 80 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call2_profile_graph_1.3b.json > $OUT/call2_profile.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call2_e2e_14b_720p.json > $OUT/call2_e2e_14b_720p.log 2>&1
timeout 185 python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call2_e2e_14b_480p.json > $OUT/call2_e2e_14b_480p.log 2>&1
for f in $OUT/*.log; do tail -n 12 "$f"; done
