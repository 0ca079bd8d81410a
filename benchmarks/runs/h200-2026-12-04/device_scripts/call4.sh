#!/bin/bash
# Device call 4 of 2026-12-04: the Gluon K/V summary without spills on Triton 3.8 (GPU tests, against the
# kernel at 0a592f7 and the Triton one); the A14B i2v 720p table (last run in 02i).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts
D=benchmarks/runs/h200-2026-12-04/device_scripts
timeout 150 python -m pytest -q tests/attention/test_kv_summary_wgmma.py tests/attention/test_sla_kernel.py \
  -k "summar or wgmma" > $OUT/call4_gpu_tests.log 2>&1
tail -n 6 $OUT/call4_gpu_tests.log
timeout 150 python -u $D/kv_summary_ab.py $OUT/call4_kv_summary_ab.json > $OUT/call4_kv_summary_ab.log 2>&1
tail -n 8 $OUT/call4_kv_summary_ab.log
timeout 400 python -u benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call4_e2e_a14b_720p.json > $OUT/call4_e2e_a14b_720p.log 2>&1
tail -n 14 $OUT/call4_e2e_a14b_720p.log
