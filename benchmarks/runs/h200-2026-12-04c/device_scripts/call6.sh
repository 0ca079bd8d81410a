#!/bin/bash
# Device call 6 of 2026-12-04c: the GPU tests of ForwardGraphs after captures and replays were put under the
# model's device (b3d83b7).
set -x
timeout 150 python -m pytest -q -p no:cacheprovider -m gpu tests/pipelines/test_forward_graphs.py -rfE \
  > $OUT/call6_gpu_tests.log 2>&1
tail -n 5 $OUT/call6_gpu_tests.log
