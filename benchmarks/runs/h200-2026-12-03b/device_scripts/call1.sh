#!/bin/bash
# Device call 1 of 2026-12-03b (tree at the commit named in the README): GPU tests of SLA's kernels with the
# shared feature map, the block selection's cost, the 1.3B forward's timeline under CUDA graphs, the 1.3B table.
set -x
export PYTHONPATH=.
D=benchmarks/runs/h200-2026-12-03b/device_scripts
timeout 60 python $D/topk_cost.py $OUT/call1_topk_cost.json > $OUT/call1_topk.log 2>&1
timeout 90 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call1_profile_graph_1.3b.json > $OUT/call1_profile.log 2>&1
timeout 200 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call1_e2e_1.3b_480p.json > $OUT/call1_e2e_1.3b.log 2>&1
timeout 200 python -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py > $OUT/call1_gpu_tests.log 2>&1
tail -3 $OUT/*.log
