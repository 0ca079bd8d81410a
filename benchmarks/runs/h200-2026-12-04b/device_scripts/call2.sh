#!/bin/bash
# Device call 2 of 2026-12-04b (CUDA graphs in the pipeline): GPU tests of the pipeline, the pipeline A/B
# (eager / + text cache / + graphs), and the 14B-720p table with the text cache.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04b/device_scripts
timeout 150 python -m pytest -q -m gpu tests/pipelines/ -p no:cacheprovider > $OUT/call2_gpu_tests.log 2>&1
tail -n 5 $OUT/call2_gpu_tests.log
timeout 160 python -u $D/pipeline_ab.py $OUT/call2_pipeline_ab.json > $OUT/call2_pipeline_ab.log 2>&1
tail -n 1 $OUT/call2_pipeline_ab.log
timeout 250 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call2_e2e_14b_720p.json > $OUT/call2_e2e_14b_720p.log 2>&1
tail -n 10 $OUT/call2_e2e_14b_720p.log
