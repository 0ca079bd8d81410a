#!/bin/bash
# Device call 2 of 2026-12-03h (at 657d349 + sage_ring_variants.py): ring depths, permuted P~ stores and a
# warp-specialised loader for the sm_90 sparse Sage kernel, checked bit for bit and timed.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03h/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call2_gpu.txt
timeout 400 python -u $D/sage_ring_sweep.py $OUT/call2_sage_ring_sweep.json > $OUT/call2_sage_ring_sweep.log 2>&1
tail -n 8 $OUT/call2_sage_ring_sweep.log
