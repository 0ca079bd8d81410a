#!/bin/bash
# For the next GPU machine: Wan2.2 I2V A14B 720p through the pipeline, both experts (random weights,
# fp8-row-fast, SageSLA): the experts taking turns on the GPU ("swap", what every GPU did before) against
# the pipeline's placement ("auto": on an H200 both stay once used). e2e.py times one expert and no move, so
# this is the first measurement of what the turns cost a generation.
set -x
export PYTHONPATH=.:benchmarks
timeout 560 python -u benchmarks/pipeline_random.py --preset wan2.2-i2v-a14b --resolution 1280x720 \
  --attention sagesla --quant fp8-row-fast --experts swap auto --repeats 3 \
  --json $OUT/call9_pipeline_a14b_720p.json > $OUT/call9_pipeline_a14b_720p.log 2>&1
tail -n 14 $OUT/call9_pipeline_a14b_720p.log
