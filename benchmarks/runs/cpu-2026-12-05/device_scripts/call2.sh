#!/bin/bash
# For a two-GPU machine (kind nvidia-h200-x2), whenever one is lent: the pipeline's CUDA graphs on cuda:1
# while cuda:0 is current (never run on a GPU so far), then the whole GPU-marked pipelines folder on two GPUs.
set -x
export PYTHONPATH=.:benchmarks
nvidia-smi -L
timeout 300 python -m pytest -q -p no:cacheprovider tests/pipelines/test_forward_graphs.py \
  > $OUT/call2_graphs_second_gpu.log 2>&1
tail -n 8 $OUT/call2_graphs_second_gpu.log
timeout 280 python -m pytest -q -p no:cacheprovider -m gpu tests/pipelines > $OUT/call2_pipelines_gpu.log 2>&1
tail -n 8 $OUT/call2_pipelines_gpu.log
