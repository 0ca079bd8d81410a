#!/bin/bash
# Device call 2 of 2026-12-04c: the garbage collector's pauses in the eager pipeline's steps.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04c/device_scripts
timeout 200 python -u $D/gc_steps.py $OUT/call2_gc_steps.json > $OUT/call2_gc_steps.log 2>&1
tail -n 40 $OUT/call2_gc_steps.log
