#!/bin/bash
# Device call 7 of 2026-12-04b: GPU tests after the sync counter's fix.
export PYTHONPATH=.:benchmarks
timeout 150 python -m pytest -q -m gpu tests/pipelines/test_denoise.py tests/pipelines/test_pipeline.py \
  tests/models/test_text_cache.py -p no:cacheprovider > $OUT/call7_gpu_tests.log 2>&1
tail -n 4 $OUT/call7_gpu_tests.log
timeout 120 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --quick --json $OUT/call7_e2e_quick.json > $OUT/call7_e2e_quick.log 2>&1
grep -n "probe" $OUT/call7_e2e_quick.log
