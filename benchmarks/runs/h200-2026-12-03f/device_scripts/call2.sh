#!/bin/bash
# Device call 2 of 2026-12-03f: the adopted Sage change (bias folded into the exponent's FMA, lut entries for
# the TMA coordinates loaded a tile early) against the kernel before it ("copy" in sage_variants.py), its GPU
# tests, and the norm kernels' launch sweep timed inside CUDA graphs.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03f/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03f/device_scripts
timeout 120 python -u $D/sage_bench.py $OUT/call2_sage_bench.json --variants copy > $OUT/call2_sage_bench.log 2>&1
tail -n 6 $OUT/call2_sage_bench.log
timeout 170 python -u -m pytest -q -p no:cacheprovider tests/attention/test_sage_wgmma.py tests/attention/test_sage.py \
  > $OUT/call2_gpu_tests.log 2>&1
tail -n 4 $OUT/call2_gpu_tests.log
timeout 250 python -u $D/norm_graph_sweep.py $OUT/call2_norm_graph_sweep.json > $OUT/call2_norm_graph_sweep.log 2>&1
grep -c ms $OUT/call2_norm_graph_sweep.log; tail -n 2 $OUT/call2_norm_graph_sweep.log
