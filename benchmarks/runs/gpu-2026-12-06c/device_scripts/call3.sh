#!/bin/bash
# GPU call 3 of gpu-2026-12-06c (an uncommitted first version of e4e4763's kernel: README): ops.text_attention's tests on the GPU, its launch sweep against q's norm +
# SDPA, whole forwards with and without it (1.3B-480p with 32 and 512 context rows, 14B-720p with 32).
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06c/device_scripts
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
timeout 100 python -m pytest -q -p no:cacheprovider tests/ops/test_text_attention.py > $OUT/call3_gpu_tests.log 2>&1; echo "tests rc $?"; tail -n 3 $OUT/call3_gpu_tests.log
timeout 230 python benchmarks/text_attention.py --sweep --shapes 1.3b-480p 14b-720p \
  --json $OUT/call3_text_attention_sweep.json > $OUT/call3_text_attention_sweep.log 2>&1; echo "sweep rc $?"
grep -E "rms_norm|text_attention +(32|64) +64 +8 +1 " $OUT/call3_text_attention_sweep.log | cut -c1-200
timeout 80 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-1.3b 480p --context-rows 32 512 \
  --json $OUT/call3_forward_ab_13b.json > $OUT/call3_forward_ab_13b.log 2>&1; echo "ab 1.3b rc $?"; tail -n 2 $OUT/call3_forward_ab_13b.log | cut -c1-700
timeout 150 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-14b 720p --context-rows 32 --rounds 3 --reps 3 \
  --json $OUT/call3_forward_ab_14b_720p.json > $OUT/call3_forward_ab_14b_720p.log 2>&1; echo "ab 14b rc $?"; tail -n 1 $OUT/call3_forward_ab_14b_720p.log | cut -c1-700
