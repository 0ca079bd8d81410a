#!/bin/bash
# For the next GPU machine: workspace_forward_ab.py at the 14B's shapes (480p, then 720p), one process an arm;
# whether CUBLASLT_WORKSPACE_SIZE=0 pays there as at 1.3B-480p before any default changes.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06b/device_scripts
timeout 220 python -u $D/workspace_forward_ab.py wan2.1-t2v-14b 480p --procs 1 \
  --json $OUT/workspace_ab_14b_480p.json > $OUT/workspace_ab_14b_480p.log 2>&1
tail -n 4 $OUT/workspace_ab_14b_480p.log | cut -c1-800
timeout 330 python -u $D/workspace_forward_ab.py wan2.1-t2v-14b 720p --procs 1 --rounds 2 --reps 3 \
  --json $OUT/workspace_ab_14b_720p.json > $OUT/workspace_ab_14b_720p.log 2>&1
tail -n 4 $OUT/workspace_ab_14b_720p.log | cut -c1-800
