#!/bin/bash
# For the next GPU machine, first: this session's GPU test (a real out-of-memory turned into
# DeviceMemoryError; seconds), then the GPU tests owed since 04d and 04e (04e's pending_gpu_tests.sh as it
# stands, under its own 540 s limit, so the call stays within the device's 600 s).
set -x
timeout 50 python -m pytest -q -p no:cacheprovider tests/pipelines/test_out_of_memory.py -rfEs \
  > $OUT/call1_out_of_memory.log 2>&1
tail -n 10 $OUT/call1_out_of_memory.log
bash benchmarks/runs/cpu-2026-12-04e/pending_gpu_tests.sh
