#!/bin/bash
# The whole 14B through quantize_load.py's arms (h100-2026-12-05c measured 10 of its 40 layers: drawing the
# whole DiT on the CPU overran the call; it is now drawn on the GPU and moved to the CPU).
set -x
export PYTHONPATH=.:benchmarks
timeout 290 python -u benchmarks/quantize_load.py wan2.1-t2v-14b --modes fp8-row \
  --json $OUT/quantize_load_14b.json > $OUT/quantize_load_14b.log 2>&1
tail -n 4 $OUT/quantize_load_14b.log
