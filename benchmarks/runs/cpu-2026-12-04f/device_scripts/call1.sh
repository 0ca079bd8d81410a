#!/bin/bash
# For the next GPU machine, first: the GPU tests owed (04e's pending_gpu_tests.sh: test_sla_kernel.py after its
# refusal message changed, the degraded-path WARNING, the Triton release gate and cached availability check, the
# row quantiser's fp8 indexing) and this session's: a real out-of-memory on the GPU turned into DeviceMemoryError.
set -x
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/call1_gpu.txt 2>&1
python -c "import torch, triton; print(torch.__version__, triton.__version__)" >> $OUT/call1_gpu.txt 2>&1
timeout 540 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread \
  tests/attention/test_sla_kernel.py tests/attention/test_degraded.py tests/pipelines/test_pipeline.py \
  tests/pipelines/test_forward_graphs.py tests/test_kernel_device.py tests/attention/test_gluon_hopper.py \
  tests/attention/test_sage_wgmma.py tests/attention/test_kv_summary_wgmma.py tests/quant/test_row_quant.py \
  tests/pipelines/test_out_of_memory.py \
  --durations=10 --junitxml=$OUT/call1_gpu_tests.xml -rfEs > $OUT/call1_gpu_tests.log 2>&1
tail -n 40 $OUT/call1_gpu_tests.log
