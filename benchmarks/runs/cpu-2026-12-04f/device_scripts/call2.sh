#!/bin/bash
# For the next GPU machine, after benchmarks/runs/cpu-2026-12-04e/pending_gpu_tests.sh (call 1): the reordered
# Sage kernel against kernel_wgmma (outputs, a layer alone, whole forwards at 1.3B-480p and 14B-720p).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts
D=benchmarks/runs/cpu-2026-12-04f/device_scripts
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/call2_gpu.txt 2>&1
timeout 560 python -u $D/sage_reorder_ab.py $OUT/call2_sage_reorder_ab.json > $OUT/call2_sage_reorder_ab.log 2>&1
tail -n 40 $OUT/call2_sage_reorder_ab.log
