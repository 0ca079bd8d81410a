#!/bin/bash
# Device call 1 of 2026-12-03f (tree at 4b9cfcf plus this folder's scripts): the Gluon Sage kernel's switches
# against the production kernel; GPU tests (the GELU extreme-input test written after 03e's last call, the
# Sage kernel's); the fused norm kernels' launch sweep (03e's script, never run); a 14B-720p forward profile.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03f/device_scripts:benchmarks/runs/h200-2026-12-03e/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03f/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call1_gpu.txt
timeout 200 python -u $D/sage_bench.py $OUT/call1_sage_bench.json > $OUT/call1_sage_bench.log 2>&1
tail -n 20 $OUT/call1_sage_bench.log
timeout 80 python -u -m pytest -q -p no:cacheprovider tests/attention/test_sage_wgmma.py \
  "tests/quant/test_row_quant.py::test_gelu_kernel_at_extreme_inputs" > $OUT/call1_gpu_tests.log 2>&1
tail -n 3 $OUT/call1_gpu_tests.log
timeout 110 python -u benchmarks/runs/h200-2026-12-03e/device_scripts/norm_sweep.py $OUT/call1_norm_sweep.json \
  > $OUT/call1_norm_sweep.log 2>&1
tail -n 3 $OUT/call1_norm_sweep.log
timeout 190 python -u benchmarks/profile_forward.py wan2.1-t2v-14b --resolution 720p \
  --variants sagesla+fp8row-fast+fused --graph --reps 2 --profile-reps 1 \
  --json $OUT/call1_profile_graph_14b_720p.json > $OUT/call1_profile_14b.log 2>&1
tail -n 8 $OUT/call1_profile_14b.log
