#!/bin/bash
# sage_pp.py (two compute warpgroups a program, issuing in turn) against kernel_wgmma: the outputs first under
# a short limit (a kernel that deadlocks costs two minutes, not the call); the timings only if they ran.
set -x
source benchmarks/runs/cpu-2026-12-05c/device_scripts/env.sh
D=benchmarks/runs/cpu-2026-12-05c/device_scripts
timeout 150 python -u $D/sage_pp_ab.py $OUT/pp_outputs.json outputs > $OUT/pp_outputs.log 2>&1 \
  && timeout 330 python -u $D/sage_pp_ab.py $OUT/pp_timings.json layers,forwards > $OUT/pp_timings.log 2>&1
tail -n 20 $OUT/pp_outputs.log; tail -n 16 $OUT/pp_timings.log
