#!/bin/bash
# sage_sync.py against kernel_wgmma: the outputs first under a short limit (a kernel that deadlocks costs two
# minutes, not the call); the timings (a layer alone, whole forwards) only if every output check ran.
set -x
source benchmarks/runs/cpu-2026-12-05c/device_scripts/env.sh
D=benchmarks/runs/cpu-2026-12-05c/device_scripts
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/sync_gpu.txt 2>&1
timeout 150 python -u $D/sage_sync_ab.py $OUT/sync_outputs.json outputs > $OUT/sync_outputs.log 2>&1 \
  && timeout 330 python -u $D/sage_sync_ab.py $OUT/sync_timings.json layers,forwards > $OUT/sync_timings.log 2>&1
tail -n 20 $OUT/sync_outputs.log; tail -n 16 $OUT/sync_timings.log
