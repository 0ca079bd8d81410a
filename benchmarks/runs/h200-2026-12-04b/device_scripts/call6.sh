#!/bin/bash
# Device call 6 of 2026-12-04b: the sampler's event clock (no per-step synchronisation): GPU tests, A/B.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04b/device_scripts
timeout 150 python -m pytest -q -m gpu tests/pipelines/test_denoise.py tests/pipelines/test_pipeline.py \
  tests/models/test_text_cache.py -p no:cacheprovider > $OUT/call6_gpu_tests.log 2>&1
tail -n 4 $OUT/call6_gpu_tests.log
timeout 240 python -u $D/step_sync_ab.py $OUT/call6_step_sync_ab.json > $OUT/call6_step_sync_ab.log 2>&1
tail -n 3 $OUT/call6_step_sync_ab.log
