#!/bin/bash
# SageSLA's block selection pooled by the INT8 quantisers (quantize_int8_pooled_triton, the launcher's path
# since 2026-12-05e, written without a GPU): the GPU tests of the quantisers and of SageSLA, then
# pooled_quant_ab.py (a layer alone and whole forwards at 1.3B-480p and 14B-720p, against the separate
# pooling pass it replaced), then block_selection.py (the top-k kernel's launches).
set -x
export PYTHONPATH=.:benchmarks
timeout 200 python -m pytest -q -p no:cacheprovider tests/attention/test_sage.py tests/attention/test_sage_wgmma.py \
  -k "pool or sagesla or quantis" > $OUT/pooled_tests.log 2>&1
tail -n 5 $OUT/pooled_tests.log
timeout 330 python -u benchmarks/runs/cpu-2026-12-05e/device_scripts/pooled_quant_ab.py $OUT/pooled_quant_ab.json \
  > $OUT/pooled_quant_ab.log 2>&1
tail -n 8 $OUT/pooled_quant_ab.log
# The top-k kernel's launches (rows a program, warps) at the Wan shapes: the default against four others.
timeout 150 python -u benchmarks/block_selection.py --json $OUT/block_selection.json > $OUT/block_selection.log 2>&1
tail -n 8 $OUT/block_selection.log
