#!/bin/bash
# Device call 2 of 2026-12-03b (tree at the commit named in the README): the top-k kernel against torch.topk,
# q/k/v as one FP8 GEMM, GPU tests of the block selection and SLA kernels (verbose, to see any slow one), the
# 1.3B Turbo rows with the kernel selecting blocks.
set -x
export PYTHONPATH=.
D=benchmarks/runs/h200-2026-12-03b/device_scripts
timeout 90 python $D/topk_sweep.py $OUT/call2_topk_sweep.json > $OUT/call2_topk.log 2>&1
timeout 60 python $D/qkv_gemm.py $OUT/call2_qkv_gemm.json > $OUT/call2_qkv.log 2>&1
# SM clock and power every 50 ms during the table: does the clock sag over the sustained loops?
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 50 > $OUT/call2_clocks.csv 2>&1 &
SMI=$!
timeout 150 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call2_e2e_1.3b_480p.json > $OUT/call2_e2e_1.3b.log 2>&1
kill $SMI
timeout 60 python -u -m pytest -v -p no:cacheprovider tests/attention/test_sla_block_map.py -k "topk or cuda" \
  > $OUT/call2_gpu_tests_block_map.log 2>&1
timeout 200 python -u -m pytest -v -x --durations=15 -p no:cacheprovider tests/attention/test_sla_kernel.py \
  > $OUT/call2_gpu_tests_sla_kernel.log 2>&1
for f in $OUT/*.log; do tail -n 4 "$f"; done
