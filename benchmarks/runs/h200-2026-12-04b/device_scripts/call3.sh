#!/bin/bash
# Device call 3 of 2026-12-04b: host against GPU time of one eager Turbo forward (1.3B-480p).
export PYTHONPATH=.:benchmarks
timeout 300 python -u benchmarks/runs/h200-2026-12-04b/device_scripts/host_profile.py $OUT/call3_host_profile \
  > $OUT/call3_host_profile.log 2>&1
