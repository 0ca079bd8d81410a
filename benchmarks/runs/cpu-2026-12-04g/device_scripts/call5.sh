#!/bin/bash
# For the next GPU machine, after 04f's calls 1-4: the pipeline users call (TurboPipeline, as `generate` runs
# it on a GPU) in the two FP8 modes, fp8-row and then the new fp8-row-fast (--repeats calls each, the first a warm-up),
# at 1.3B-480p and 14B-720p; random weights. Checks that the product reaches e2e.py's turbo-fp8 and
# turbo-fp8-fast rows (1.3B-480p four steps 0.609 / 0.564 s in h200-2026-12-04d; the pipeline runs its steps
# eagerly, without CUDA graphs, as generate does).
set -x
export PYTHONPATH=.:benchmarks
timeout 250 python -u benchmarks/pipeline_random.py --preset wan2.1-t2v-1.3b --resolution 832x480 \
  --attention sagesla --quant fp8-row fp8-row-fast --repeats 4 \
  --json $OUT/call5_pipeline_1.3b_480p.json > $OUT/call5_pipeline_1.3b_480p.log 2>&1
tail -n 12 $OUT/call5_pipeline_1.3b_480p.log
timeout 330 python -u benchmarks/pipeline_random.py --preset wan2.1-t2v-14b --resolution 1280x720 \
  --attention sagesla --quant fp8-row fp8-row-fast --repeats 3 \
  --json $OUT/call5_pipeline_14b_720p.json > $OUT/call5_pipeline_14b_720p.log 2>&1
tail -n 12 $OUT/call5_pipeline_14b_720p.log
