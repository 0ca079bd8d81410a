#!/bin/bash
# Device call 4 of 2026-12-03c (tree at the commit named in the README): the whole forward with the Gluon
# Sage kernel against the same model on the Triton kernel (alternating CUDA graphs, one process), then GPU
# tests of the linear branch (fp32 now premultiplied outside the kernel) and of Sage / SageSLA.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-03c/device_scripts
timeout 200 python -u $D/sage_kernel_ab.py $OUT/call4_sage_kernel_ab.json > $OUT/call4_sage_kernel_ab.log 2>&1
timeout 100 python -u -m pytest -v --durations=10 -p no:cacheprovider tests/attention/test_sla_kernel.py \
  tests/attention/test_sage.py tests/attention/test_sage_wgmma.py -k "linear_branch or summarize or sage" \
  > $OUT/call4_gpu_tests.log 2>&1
for f in $OUT/*.log; do tail -n 8 "$f"; done
