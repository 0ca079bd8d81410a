#!/bin/bash
# GPU call 5 of gpu-2026-12-06c (at e4e4763, as run inline): call 4's whole-forward A/Bs, which failed for
# want of the cut sweep's JSON, with the fastest launch of its 1.3B-480p cases written by hand.
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06c/device_scripts
python -c "
import json; r=dict(prompt=24, impl='text_attention', block_m=64, block_n=64, num_warps=8, max_registers=128, ms=0.0)
json.dump(dict(rows=[dict(r, shape='1.3b-480p'), dict(r, shape='14b-720p')]), open('$OUT/launch_64_8_128.json','w'))"
timeout 80 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-1.3b 480p --context-rows 32 \
  --sweep-json $OUT/launch_64_8_128.json --sweep-shape 1.3b-480p --json $OUT/call5_forward_ab_13b.json \
  > $OUT/call5_forward_ab_13b.log 2>&1; echo "ab 1.3b rc $?"; tail -n 1 $OUT/call5_forward_ab_13b.log | cut -c1-600
timeout 150 python -u $D/cross_attention_forward_ab.py wan2.1-t2v-14b 720p --context-rows 32 --rounds 3 --reps 3 \
  --sweep-json $OUT/launch_64_8_128.json --sweep-shape 14b-720p --json $OUT/call5_forward_ab_14b_720p.json \
  > $OUT/call5_forward_ab_14b_720p.log 2>&1; echo "ab 14b rc $?"; tail -n 1 $OUT/call5_forward_ab_14b_720p.log | cut -c1-600
