#!/bin/bash
# Device call 1 of 2026-12-03c (tree at the commit named in the README): the Gluon (async wgmma) sparse Sage
# prototype against the Triton kernel, the 1.3B forward's profile with the
# premultiplied linear branch, the 1.3B table with the clock columns, block selection as its benchmark, and
# the SLA kernels' GPU tests (fp32 now one config).
set -x
export PYTHONPATH=.
D=benchmarks/runs/h200-2026-12-03c/device_scripts
PYTHONPATH=.:$D:benchmarks/runs/h200-2026-12-03b/device_scripts timeout 150 python -u $D/sage_wgmma_check.py $OUT/call1_sage_wgmma.json > $OUT/call1_sage_wgmma.log 2>&1
if [ $? -ne 0 ]; then  # the new kernel is not right (or hung): do not time the model on it
  tail -n 30 $OUT/call1_sage_wgmma.log
  timeout 300 python -u -m pytest -v --durations=20 -p no:cacheprovider tests/attention/test_sla_kernel.py \
    > $OUT/call1_gpu_tests_sla_kernel.log 2>&1
  for f in $OUT/*.log; do tail -n 6 "$f"; done
  exit 1
fi
timeout 100 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row-fast+fused --graph \
  --json $OUT/call1_profile_graph_1.3b.json > $OUT/call1_profile.log 2>&1
timeout 160 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call1_e2e_1.3b_480p.json > $OUT/call1_e2e_1.3b.log 2>&1
timeout 80 python benchmarks/block_selection.py --json $OUT/call1_block_selection.json > $OUT/call1_block_selection.log 2>&1
timeout 100 python -u -m pytest -v --durations=20 -p no:cacheprovider tests/attention/test_sla_kernel.py \
  > $OUT/call1_gpu_tests_sla_kernel.log 2>&1
for f in $OUT/*.log; do tail -n 6 "$f"; done
