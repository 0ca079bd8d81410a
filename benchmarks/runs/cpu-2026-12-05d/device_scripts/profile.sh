#!/bin/bash
# Where a 14B-720p and a 1.3B-480p Turbo forward go at the current tree (CUDA graph, FP8-fast linears, fused
# ops, SageSLA, a 24-token prompt's context trimmed as the pipeline trims it): the last 14B-720p profile
# (h200-2026-12-03g) predates the Gluon K/V summary, P~ in registers and the trimmed text.
set -x
export PYTHONPATH=.:benchmarks
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/profile_gpu.txt
timeout 220 python -u benchmarks/profile_forward.py wan2.1-t2v-14b --resolution 720p \
  --variants sagesla+fp8row-fast+fused --graph --reps 2 --profile-reps 1 --top 40 --prompt-tokens 24 \
  --json $OUT/profile_graph_14b_720p.json > $OUT/profile_14b_720p.log 2>&1
tail -n 22 $OUT/profile_14b_720p.log
timeout 120 python -u benchmarks/profile_forward.py wan2.1-t2v-1.3b --resolution 480p \
  --variants sagesla+fp8row-fast+fused --graph --reps 3 --profile-reps 1 --top 40 --prompt-tokens 24 \
  --json $OUT/profile_graph_1.3b_480p.json > $OUT/profile_1.3b_480p.log 2>&1
tail -n 22 $OUT/profile_1.3b_480p.log
