#!/bin/bash
# Device call 3 of 2026-12-03b (tree at the commit named in the README): the 1.3B forward's profile with the
# top-k kernel, then GPU tests of the top-k kernel and of SLA's kernels (the shared feature map), given the
# time their first compiles took in calls 1 and 2.
set -x
export PYTHONPATH=.
timeout 90 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call3_profile_graph_1.3b.json > $OUT/call3_profile.log 2>&1
timeout 150 python -u -m pytest -v --durations=10 -p no:cacheprovider tests/attention/test_sla_block_map.py \
  -k "topk_kernel or cuda" > $OUT/call3_gpu_tests_block_map.log 2>&1
timeout 300 python -u -m pytest -v --durations=20 -p no:cacheprovider tests/attention/test_sla_kernel.py \
  -k "linear_branch or summarize or fp32 or bf16" > $OUT/call3_gpu_tests_sla_kernel.log 2>&1
for f in $OUT/*.log; do tail -n 25 "$f"; done
