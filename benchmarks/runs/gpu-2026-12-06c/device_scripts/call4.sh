#!/bin/bash
# GPU call 4 of gpu-2026-12-06c (at e4e4763), after call 3 found the first kernel slower than q's norm + SDPA: the kernel
# now loads the next head's tiles ahead. Its tests, the launch sweep (24- and 200-token prompts), whole
# forwards with the sweep's fastest launch (1.3B-480p, 14B-720p; 24-token prompt).
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06c/device_scripts
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
timeout 80 python -m pytest -q -p no:cacheprovider tests/ops/test_text_attention.py > $OUT/call4_gpu_tests.log 2>&1; echo "tests rc $?"; tail -n 2 $OUT/call4_gpu_tests.log
timeout 200 python benchmarks/text_attention.py --sweep --shapes 1.3b-480p 14b-720p --prompt-tokens 24 200 \
  --json $OUT/call4_sweep.json > $OUT/call4_sweep.log 2>&1; echo "sweep rc $?"
grep -E "^(1.3b|14b)" $OUT/call4_sweep.log | sort -k1,1 -k2,2n -k9,9g | awk '{c[$1" "$2]++} c[$1" "$2]<=4' | cut -c1-200
grep -E "rms_norm" $OUT/call4_sweep.log | cut -c1-200
timeout 70 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-1.3b 480p --context-rows 32 \
  --sweep-json $OUT/call4_sweep.json --sweep-shape 1.3b-480p \
  --json $OUT/call4_forward_ab_13b.json > $OUT/call4_forward_ab_13b.log 2>&1; echo "ab 1.3b rc $?"; tail -n 2 $OUT/call4_forward_ab_13b.log | cut -c1-600
timeout 140 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-14b 720p --context-rows 32 --rounds 3 --reps 3 \
  --sweep-json $OUT/call4_sweep.json --sweep-shape 14b-720p \
  --json $OUT/call4_forward_ab_14b_720p.json > $OUT/call4_forward_ab_14b_720p.log 2>&1; echo "ab 14b rc $?"; tail -n 2 $OUT/call4_forward_ab_14b_720p.log | cut -c1-600
