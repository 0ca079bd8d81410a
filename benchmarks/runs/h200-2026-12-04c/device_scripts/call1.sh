#!/bin/bash
# Device call 1 of 2026-12-04c (kept CUDA graphs in the pipeline): GPU tests, the graphed/eager pipeline A/B
# at 1.3B-480p, 14B-720p, and 1.3B-480p again with the host's one core shared with a busy loop.
set -x
export PYTHONPATH=.:benchmarks
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv > $OUT/call1_gpu.txt
timeout 150 python -m pytest -q -m gpu tests/pipelines/test_forward_graphs.py tests/pipelines/test_denoise.py \
  tests/pipelines/test_pipeline.py tests/models/test_text_cache.py > $OUT/call1_gpu_tests.log 2>&1
tail -n 5 $OUT/call1_gpu_tests.log
timeout 150 python -u benchmarks/pipeline_graphs.py --rounds 4 --json $OUT/call1_graphs_1.3b_480p.json \
  > $OUT/call1_graphs_1.3b.log 2>&1
tail -n 6 $OUT/call1_graphs_1.3b.log
timeout 260 python -u benchmarks/pipeline_graphs.py --preset wan2.1-t2v-14b --resolution 1280x720 --rounds 2 \
  --json $OUT/call1_graphs_14b_720p.json > $OUT/call1_graphs_14b.log 2>&1
tail -n 6 $OUT/call1_graphs_14b.log
# A contended host: the benchmark and a busy loop share core 0.
taskset -c 0 sh -c 'while :; do :; done' & BUSY=$!
timeout 120 taskset -c 0 python -u benchmarks/pipeline_graphs.py --rounds 3 \
  --json $OUT/call1_graphs_1.3b_480p_contended.json > $OUT/call1_graphs_1.3b_contended.log 2>&1
kill $BUSY
tail -n 6 $OUT/call1_graphs_1.3b_contended.log
