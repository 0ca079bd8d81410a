#!/bin/bash
# Device call 4 of 2026-12-03d (call 2's machine): the Gluon kernel tests at the restored one-step rule, then
# the whole forward with the sm_90 path (Gluon kernel, linear branch in its epilogue) against the Triton
# kernel path (linear_branch_triton + _sage_fwd_kernel), alternating CUDA graphs.
set -x
export PYTHONPATH=.:benchmarks
timeout 60 python -u -m pytest -q -p no:cacheprovider tests/attention/test_sage_wgmma.py > $OUT/call4_gpu_tests.log 2>&1
tail -n 3 $OUT/call4_gpu_tests.log
timeout 240 python -u benchmarks/runs/h200-2026-12-03c/device_scripts/sage_kernel_ab.py $OUT/call4_sage_kernel_ab.json \
  > $OUT/call4_sage_kernel_ab.log 2>&1
tail -n 4 $OUT/call4_sage_kernel_ab.log
