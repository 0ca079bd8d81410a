#!/bin/bash
# Device call 5 of 2026-12-03: the K/V summary kernel variants, then the 14B tables (call4.sh).
set -x
D=benchmarks/runs/h200-2026-12-03/device_scripts
PYTHONPATH=.:$D timeout 120 python $D/kv_summary_sweep.py $OUT/call5_kv_summary_sweep.json > $OUT/call5_kv_sweep.log 2>&1
bash $D/call4.sh
