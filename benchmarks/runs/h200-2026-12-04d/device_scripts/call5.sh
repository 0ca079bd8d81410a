#!/bin/bash
# Device call 5 of 2026-12-04d: the fixes for call 3's failures, on the device's torch 2.11 / Triton 3.6.
# FSDP2 under torch.func.jvp: first with each unit gathered once in shard_model (fsdp_gather_once.patch, as committed); then,
# for comparison, with the rCM loss running the student's own forward before the jvp instead
# (rcm_forward_first.patch, the shard_model change taken out).
set -x
T="tests/training/test_distributed.py tests/training/test_sequence_parallel.py"
timeout 200 python -m pytest -q -p no:cacheprovider --timeout 150 --timeout-method thread $T \
  tests/training/test_losses.py tests/eval/test_harness.py tests/test_kernel_device.py \
  --junitxml=$OUT/call5_fixes.xml -rfE > $OUT/call5_fixes.log 2>&1
tail -n 15 $OUT/call5_fixes.log
git apply -R benchmarks/runs/h200-2026-12-04d/device_scripts/fsdp_gather_once.patch && git apply benchmarks/runs/h200-2026-12-04d/device_scripts/rcm_forward_first.patch
timeout 150 python -m pytest -q -p no:cacheprovider --timeout 120 --timeout-method thread $T \
  -rfE > $OUT/call5_forward_first.log 2>&1
tail -n 8 $OUT/call5_forward_first.log
