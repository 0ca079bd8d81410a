#!/bin/bash
# Device call 1 of 2026-12-04b (the TextContextCache): graph A/B at 1.3B-480p and 14B-720p, the pipeline
# A/B (what generate runs), and the 1.3B-480p table.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04b/device_scripts
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv > $OUT/call1_gpu.txt
timeout 210 python -u $D/text_cache_ab.py $OUT/call1_text_cache_ab.json > $OUT/call1_text_cache_ab.log 2>&1
tail -n 4 $OUT/call1_text_cache_ab.log
timeout 130 python -u $D/pipeline_ab.py $OUT/call1_pipeline_ab.json > $OUT/call1_pipeline_ab.log 2>&1
tail -n 3 $OUT/call1_pipeline_ab.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call1_e2e_1.3b_480p.json > $OUT/call1_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call1_e2e_1.3b.log
