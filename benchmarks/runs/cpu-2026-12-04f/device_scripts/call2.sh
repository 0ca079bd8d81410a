#!/bin/bash
# For the next GPU machine, after call 1: the reordered Sage kernel and the peel-only control against kernel_wgmma.
# The outputs first, under a short limit (a kernel that deadlocks costs two minutes, not the call); the
# timings only if every output check ran.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts
D=benchmarks/runs/cpu-2026-12-04f/device_scripts
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/call2_gpu.txt 2>&1
timeout 150 python -u $D/sage_reorder_ab.py $OUT/call2_outputs.json outputs > $OUT/call2_outputs.log 2>&1 \
  && timeout 420 python -u $D/sage_reorder_ab.py $OUT/call2_timings.json layers,forwards > $OUT/call2_timings.log 2>&1
tail -n 25 $OUT/call2_outputs.log; tail -n 30 $OUT/call2_timings.log
