#!/bin/bash
# For the next GPU machine, first: the GPU tests owed since 04d and 04e (04e's pending_gpu_tests.sh, as it
# stands), then this session's: a real out-of-memory on the GPU turned into DeviceMemoryError.
set -x
bash benchmarks/runs/cpu-2026-12-04e/pending_gpu_tests.sh
timeout 120 python -m pytest -q -p no:cacheprovider tests/pipelines/test_out_of_memory.py -rfEs \
  > $OUT/call1_out_of_memory.log 2>&1
tail -n 10 $OUT/call1_out_of_memory.log
