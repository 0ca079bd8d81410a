#!/bin/bash
# Device call 1 of 2026-12-03g: the RoPE norm in head chunks against the kernel at 8fcf703 (launch sweep in
# CUDA graphs, then whole forwards), the fused norm + modulation in two tiles a row (the same), the K/V summary
# in column halves (sweep), GPU tests of both norms.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03g/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03g/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call1_gpu.txt
timeout 170 python -u $D/row_kernel_sweep.py $OUT/call1_row_kernel_sweep.json > $OUT/call1_row_kernel_sweep.log 2>&1
tail -n 12 $OUT/call1_row_kernel_sweep.log
timeout 280 python -u $D/forward_ab.py $OUT/call1_forward_ab.json rope_at_8fcf703 norm_at_8fcf703 \
  > $OUT/call1_forward_ab.log 2>&1
tail -n 4 $OUT/call1_forward_ab.log
timeout 100 python -u -m pytest -q -p no:cacheprovider tests/ops/test_rms_norm_rope.py tests/models/test_dit_fused.py \
  tests/ops/test_norm_modulate.py > $OUT/call1_gpu_tests.log 2>&1
tail -n 3 $OUT/call1_gpu_tests.log
