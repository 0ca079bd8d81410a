#!/bin/bash
# Device call 6 of 2026-12-04d: call 2's part of the suite again (attention, ops, quant on the GPU) after
# the kernels' device check moved into turbodiffusion/kernel_device.py, plus the new test of that check.
set -x
timeout 480 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention tests/ops tests/quant tests/test_kernel_device.py --ignore=tests/attention/test_sla_kernel.py \
  --junitxml=$OUT/call6_suite_a.xml -rfE > $OUT/call6_suite_a.log 2>&1
tail -n 5 $OUT/call6_suite_a.log
