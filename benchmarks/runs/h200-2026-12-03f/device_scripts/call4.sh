#!/bin/bash
# Device call 4 of 2026-12-03f: whole forwards with the adopted Sage kernel against the kernel at 4b9cfcf and
# the per-thread row-sum variant (forward_ab.py), 1.3B-480p and 14B-720p.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03f/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03f/device_scripts
timeout 330 python -u $D/forward_ab.py $OUT/call4_forward_ab.json > $OUT/call4_forward_ab.log 2>&1
tail -n 4 $OUT/call4_forward_ab.log
