#!/bin/bash
# Device call 2 of 2026-12-04d: the test suite on the GPU machine, part A (attention, ops, quant: the Triton
# kernels compiled for sm_90 instead of interpreted). tests/attention/test_sla_kernel.py ran alone in
# 2026-12-04c call 5 (32 passed). Thread timeouts print the stacks of a test that hangs.
set -x
timeout 560 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention tests/ops tests/quant --ignore=tests/attention/test_sla_kernel.py \
  --durations=25 --junitxml=$OUT/call2_suite_a.xml -rfE > $OUT/call2_suite_a.log 2>&1
tail -n 60 $OUT/call2_suite_a.log
