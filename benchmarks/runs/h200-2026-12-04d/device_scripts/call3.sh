#!/bin/bash
# Device call 3 of 2026-12-04d: the test suite on the GPU machine, part B (every other folder; the two files
# that import PyAV are left out: the device has no PyAV; the shared reference folder is absent, so its
# tests skip).
set -x
timeout 560 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests --ignore=tests/attention --ignore=tests/ops --ignore=tests/quant \
  --ignore=tests/pipelines/test_video_io.py --ignore=tests/cli/test_generate.py \
  --durations=25 --junitxml=$OUT/call3_suite_b.xml -rfE > $OUT/call3_suite_b.log 2>&1
tail -n 60 $OUT/call3_suite_b.log
