#!/bin/bash
# Device call 3 of 2026-12-04c: the whole test suite on the GPU machine (kernels on the GPU, not the
# interpreter); the two files that import PyAV are left out (the device has no PyAV), and the shared
# reference folder is not there (its tests skip).
set -x
timeout 540 python -m pytest -q -p no:cacheprovider --timeout 300 --ignore=tests/pipelines/test_video_io.py \
  --ignore=tests/cli/test_generate.py --junitxml=$OUT/call3_suite.xml -rfE > $OUT/call3_suite.log 2>&1
tail -n 40 $OUT/call3_suite.log
