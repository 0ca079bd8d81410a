#!/bin/bash
# GPU call 2 of gpu-2026-12-06e: the Sage kernel's linear epilogue with q or m loaded at the program's start.
# Run at f5d9ea7 with linear_epilogue_switches.patch applied (git apply it first; the switches were not kept).
export PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06e/device_scripts
D=benchmarks/runs/gpu-2026-12-06e/device_scripts
timeout 300 python -u $D/linear_epilogue_ab.py $OUT/linear_epilogue_ab.json > $OUT/linear_epilogue_ab.log 2>&1
echo "ab rc $?"; cut -c1-300 $OUT/linear_epilogue_ab.log
timeout 200 python -m pytest -q -p no:cacheprovider tests/attention/test_sage_wgmma.py 2>&1 | tail -n 3
