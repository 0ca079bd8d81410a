#!/bin/bash
# GPU call 5 of gpu-2026-12-06e: the V quantiser at 4, 8 and 16 warps (call 4 found it spilling on Triton 3.6 at
# 4), then its sm_90 build test and the V quantiser's tests on the GPU.
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06e/device_scripts
timeout 150 python -u $D/v_quant_warps.py $OUT/v_quant_warps.json > $OUT/v_quant_warps.log 2>&1
echo "warps rc $?"; cut -c1-200 $OUT/v_quant_warps.log
timeout 200 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py -k "v_quantiser or v_fp8 or quantisers" 2>&1 | tail -n 3
