#!/bin/bash
# Device call 1 of 2026-12-04d: e2e.py's graphed text-cached rows now run the pipeline's ForwardGraphs
# (graph_velocity); +graph against +fused checks the graphs reproduce the eager forward, and the 1.3B-480p and
# 14B-720p tables are compared with the earlier runs'. Call 4 ran it again (P=call4) after the fix.
set -x
P=${P:-call1}
export PYTHONPATH=.:benchmarks
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/${P}_gpu.txt
timeout 230 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p \
  --rows baseline,+fused,+graph,turbo-fp8,turbo-fp8-fast --reps 3 --base-reps 1 --loops final --loop-reps 2 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/${P}_e2e_1.3b_480p.json > $OUT/${P}_e2e_1.3b.log 2>&1
tail -n 14 $OUT/${P}_e2e_1.3b.log
timeout 300 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/${P}_e2e_14b_720p.json > $OUT/${P}_e2e_14b_720p.log 2>&1
tail -n 12 $OUT/${P}_e2e_14b_720p.log
