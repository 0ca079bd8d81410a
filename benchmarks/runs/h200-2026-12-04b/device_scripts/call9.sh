#!/bin/bash
# Device call 9 of 2026-12-04b: frames_to_host in the pipeline: GPU test, decode-stage A/B.
export PYTHONPATH=.:benchmarks
timeout 100 python -m pytest -q -m gpu tests/pipelines/test_pipeline.py -p no:cacheprovider > $OUT/call9_gpu_tests.log 2>&1
tail -n 2 $OUT/call9_gpu_tests.log
timeout 180 python -u benchmarks/runs/h200-2026-12-04b/device_scripts/pipeline_decode_ab.py $OUT/call9_pipeline_decode_ab.json \
  > $OUT/call9_pipeline_decode_ab.log 2>&1
tail -n 1 $OUT/call9_pipeline_decode_ab.log
