#!/bin/bash
# Device call 5 of 2026-12-03h: the Gluon K/V summary's launch sweep; a 1.3B-480p forward profile (CUDA graph).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03h/device_scripts
timeout 100 python -u $D/kv_launch_sweep.py $OUT/call5_kv_launch_sweep.json > $OUT/call5_kv_launch_sweep.log 2>&1
tail -n 20 $OUT/call5_kv_launch_sweep.log
timeout 150 python -u benchmarks/profile_forward.py wan2.1-t2v-1.3b --resolution 480p \
  --variants sagesla+fp8row-fast+fused --graph --reps 3 --profile-reps 1 \
  --json $OUT/call5_profile_graph_1.3b.json > $OUT/call5_profile_1.3b.log 2>&1
tail -n 22 $OUT/call5_profile_1.3b.log
