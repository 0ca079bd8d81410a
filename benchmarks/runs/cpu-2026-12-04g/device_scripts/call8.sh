#!/bin/bash
# For the next GPU machine, after call 7: quantising a loaded float DiT on the GPU (quantize_(device=), what
# the pipeline now does for --quant on a float checkpoint) against the CPU (what it did), equal codes
# required; then this session's tests that need the GPU to mean anything: quantize_(device="cuda") against
# the CPU references, and the tuned kernels' disk cache flag as a process without the interpreter sets it.
set -x
export PYTHONPATH=.:benchmarks
timeout 200 python -u benchmarks/quantize_load.py wan2.1-t2v-1.3b --modes fp8-row int8 \
  --json $OUT/call8_quantize_load_1.3b.json > $OUT/call8_quantize_load_1.3b.log 2>&1
tail -n 6 $OUT/call8_quantize_load_1.3b.log
timeout 250 python -u benchmarks/quantize_load.py wan2.1-t2v-14b --modes fp8-row \
  --json $OUT/call8_quantize_load_14b.json > $OUT/call8_quantize_load_14b.log 2>&1
tail -n 4 $OUT/call8_quantize_load_14b.log
timeout 120 python -m pytest -q -p no:cacheprovider tests/quant/test_int8_linear.py -k device \
  tests/test_kernel_device.py > $OUT/call8_gpu_tests.log 2>&1
tail -n 5 $OUT/call8_gpu_tests.log
