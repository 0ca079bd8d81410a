#!/bin/bash
# For the next GPU machine, first: the Sage kernel as adopted (P~ in registers, ea0fd00) through its GPU tests,
# against the Triton kernel (one bf16 step at the output's scale) and the sm_90 compile checks, then the
# quantiser's permuted V^T on the GPU (tests/attention/test_sage.py runs on the GPU where there is one).
set -x
timeout 240 python -m pytest -q -p no:cacheprovider tests/attention/test_sage_wgmma.py tests/attention/test_sage.py \
  -rfEs --durations=5 > $OUT/sage_adopted_tests.log 2>&1
tail -n 15 $OUT/sage_adopted_tests.log
