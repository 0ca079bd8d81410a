#!/bin/bash
# Device call 2 of 2026-12-03e (call 1's machine): the sweep again, timing 10 back-to-back calls (call 1's
# single calls included host overheads and disagreed with themselves by 20%).
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
timeout 200 python -u benchmarks/runs/h200-2026-12-03e/device_scripts/prep_sweep.py $OUT/call2_prep_sweep.json \
  > $OUT/call2_prep_sweep.log 2>&1
cat $OUT/call2_prep_sweep.log | cut -c1-230
