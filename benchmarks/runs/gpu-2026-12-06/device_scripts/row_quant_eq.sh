#!/bin/bash
# row_quant_tiles_eq.py: the row quantiser in equal tiles (one read) against the tree's.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06/device_scripts
timeout ${CAP:-170} python -u benchmarks/runs/gpu-2026-12-06/device_scripts/row_quant_tiles_eq.py \
  $OUT/row_quant_eq.json > $OUT/row_quant_eq.log 2>&1
cut -c1-300 $OUT/row_quant_eq.log | tail -n 48
