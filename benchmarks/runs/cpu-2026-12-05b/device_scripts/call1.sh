#!/bin/bash
# The Sage kernel with P~ in registers against kernel_wgmma: the outputs first under a short limit (a kernel
# that deadlocks costs two minutes, not the call); the timings only if every output check ran.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts:benchmarks/runs/cpu-2026-12-05b/device_scripts
D=benchmarks/runs/cpu-2026-12-05b/device_scripts
timeout 150 python -u $D/sage_preg_ab.py $OUT/preg_outputs.json outputs > $OUT/preg_outputs.log 2>&1 \
  && timeout 330 python -u $D/sage_preg_ab.py $OUT/preg_timings.json layers,forwards > $OUT/preg_timings.log 2>&1
tail -n 20 $OUT/preg_outputs.log; tail -n 16 $OUT/preg_timings.log
