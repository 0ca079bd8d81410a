#!/bin/bash
# Device call 1 of 2026-12-03e: GPU tests of the changed kernels (one-read row quantiser, m = KV W^T in the
# K/V summary's second kernel, tuned RoPE norm, per-variant tuned norm kernels) and their sweep.
set -x
export PYTHONPATH=.:benchmarks TRITON_DEFAULT_FP_FUSION=1
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv
timeout 170 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/attention/test_sage_wgmma.py \
  tests/ops/test_rms_norm_rope.py tests/ops/test_norm_modulate.py > $OUT/call1_gpu_tests.log 2>&1
tail -n 5 $OUT/call1_gpu_tests.log
timeout 90 python -u -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py -k "summarize or folds" \
  > $OUT/call1_gpu_tests_summary.log 2>&1
tail -n 5 $OUT/call1_gpu_tests_summary.log
timeout 200 python -u benchmarks/runs/h200-2026-12-03e/device_scripts/prep_sweep.py $OUT/call1_prep_sweep.json \
  > $OUT/call1_prep_sweep.log 2>&1
tail -n 40 $OUT/call1_prep_sweep.log
