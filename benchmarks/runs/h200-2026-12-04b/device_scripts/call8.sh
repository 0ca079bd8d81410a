#!/bin/bash
# Device call 8 of 2026-12-04b: the pipeline's decode stage split (decode, uint8 conversion, copy to the host).
export PYTHONPATH=.:benchmarks
timeout 200 python -u benchmarks/runs/h200-2026-12-04b/device_scripts/decode_split.py $OUT/call8_decode_split.json \
  > $OUT/call8_decode_split.log 2>&1
