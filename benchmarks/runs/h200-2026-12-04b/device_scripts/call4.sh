#!/bin/bash
# Device call 4 of 2026-12-04b: the eager pipeline step against the same forward in a loop (ran with call 2's
# working tree: the pipeline's cuda_graphs option on by default, so its pipeline section's step 2 captured).
export PYTHONPATH=.:benchmarks
timeout 400 python -u benchmarks/runs/h200-2026-12-04b/device_scripts/pipeline_gap.py $OUT/call4_pipeline_gap.json \
  > $OUT/call4_pipeline_gap.log 2>&1
