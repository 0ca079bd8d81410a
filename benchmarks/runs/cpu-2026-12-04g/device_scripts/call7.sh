#!/bin/bash
# For the next GPU machine, after call 6: what a new process's first generation pays to get its kernels
# ready, cold, with Triton's disk cache warm, and warm without the autotune timings kernel_device.autotune now
# keeps there (what every `generate` paid before). 1.3B-480p, SageSLA, fp8-row-fast, as generate runs it.
set -x
export PYTHONPATH=.:benchmarks
timeout 560 python -u benchmarks/cold_start.py --preset wan2.1-t2v-1.3b --resolution 832x480 \
  --attention sagesla --quant fp8-row-fast --timeout 170 \
  --json $OUT/call7_cold_start_1.3b.json > $OUT/call7_cold_start_1.3b.log 2>&1
tail -n 12 $OUT/call7_cold_start_1.3b.log
