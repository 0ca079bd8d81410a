#!/bin/bash
# For the next GPU machine (2026-12-04e was refused one), from the repository root. The GPU checks owed:
# test_sla_kernel.py after its refusal message changed (04d), and this session's changes: one WARNING a
# model for a degraded attention path (the GPU pipeline test), the Triton release gate and the cached
# availability check of the Gluon kernels (their tests again), the row quantiser test's fp8 indexing.
set -x
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/pending_gpu.txt 2>&1
python -c "import torch, triton; print(torch.__version__, triton.__version__)" >> $OUT/pending_gpu.txt 2>&1
timeout 540 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention/test_sla_kernel.py tests/attention/test_degraded.py tests/pipelines/test_pipeline.py \
  tests/pipelines/test_forward_graphs.py tests/test_kernel_device.py tests/attention/test_gluon_hopper.py \
  tests/attention/test_sage_wgmma.py tests/attention/test_kv_summary_wgmma.py tests/quant/test_row_quant.py \
  --durations=10 --junitxml=$OUT/pending_gpu_tests.xml -rfEs > $OUT/pending_gpu_tests.log 2>&1
tail -n 40 $OUT/pending_gpu_tests.log
