#!/bin/bash
# Device call 4 of 2026-12-03g (at f346812): a 14B-720p forward profile (CUDA graph) with the new norm kernels.
set -x
export PYTHONPATH=.:benchmarks
export TRITON_DEFAULT_FP_FUSION=1
timeout 200 python -u benchmarks/profile_forward.py wan2.1-t2v-14b --resolution 720p \
  --variants sagesla+fp8row-fast+fused --graph --reps 2 --profile-reps 1 \
  --json $OUT/call4_profile_graph_14b_720p.json > $OUT/call4_profile_14b.log 2>&1
tail -n 22 $OUT/call4_profile_14b.log
