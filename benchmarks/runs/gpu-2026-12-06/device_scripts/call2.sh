#!/bin/bash
# Device call 2 (little device time left): GPU tests of the row quantiser in tiles, then the 1.3B-480p forward
# with the FFN's row quantiser in tiles against two passes (row_quant_forward_ab.py).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/gpu-2026-12-06/device_scripts
timeout 60 python -u -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py > $OUT/call2_gpu_tests.log 2>&1
tail -n 3 $OUT/call2_gpu_tests.log
timeout 130 python -u $D/row_quant_forward_ab.py $OUT/call2_row_quant_forward_ab.json \
  > $OUT/call2_row_quant_forward_ab.log 2>&1
tail -n 2 $OUT/call2_row_quant_forward_ab.log | cut -c1-700
