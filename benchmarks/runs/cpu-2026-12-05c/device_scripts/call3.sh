#!/bin/bash
# The GPU tests still owed from 04e's pending_gpu_tests.sh (its other five files passed on the GPU in 05's and
# 05c's calls): the OOM test of 04f, the pipeline, forward-graph and degraded-path tests, then
# test_sla_kernel.py (minutes on its own) with what is left of the call.
set -x
timeout 50 python -m pytest -q -p no:cacheprovider tests/pipelines/test_out_of_memory.py -rfEs \
  > $OUT/owed_out_of_memory.log 2>&1
tail -n 5 $OUT/owed_out_of_memory.log
timeout 200 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention/test_degraded.py tests/pipelines/test_pipeline.py tests/pipelines/test_forward_graphs.py \
  --durations=5 -rfEs > $OUT/owed_pipeline_tests.log 2>&1
tail -n 15 $OUT/owed_pipeline_tests.log
timeout 290 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention/test_sla_kernel.py --durations=5 -rfEs > $OUT/owed_sla_kernel_tests.log 2>&1
tail -n 15 $OUT/owed_sla_kernel_tests.log
