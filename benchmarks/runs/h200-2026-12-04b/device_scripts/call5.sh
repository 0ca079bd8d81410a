#!/bin/bash
# Device call 5 of 2026-12-04b: the memset before each row-wise FP8 GEMM; attention.py --sustain at 1.3B-480p.
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04b/device_scripts
timeout 120 python -u $D/memset_probe.py $OUT/call5_memset_probe.json > $OUT/call5_memset_probe.log 2>&1
timeout 300 python -u benchmarks/attention.py --shapes wan-1.3b-480p --sustain 2 --no-peer \
  --json $OUT/call5_attention_sustain.json > $OUT/call5_attention_sustain.log 2>&1
