#!/bin/bash
# Device call 2 of 2026-12-04: the ping-pong Sage kernel (two compute warpgroups a program taking turns on the
# tensor cores) against kernel_wgmma; GPU tests of the Sage kernels (the dense test's reference now on the CPU).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts
D=benchmarks/runs/h200-2026-12-04/device_scripts
timeout 240 python -u $D/pingpong_bench.py $OUT/call2_pingpong.json > $OUT/call2_pingpong.log 2>&1
tail -n 30 $OUT/call2_pingpong.log
timeout 200 python -m pytest -q tests/attention/test_sage.py tests/attention/test_sage_wgmma.py \
  > $OUT/call2_gpu_tests.log 2>&1
tail -n 8 $OUT/call2_gpu_tests.log
