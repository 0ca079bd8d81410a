#!/bin/bash
# Device call 4 of 2026-12-02f (the session's last seconds): the user-facing pipeline at 1.3B-480p, then the
# 1.3B W8A8 +graph row at the landed code (the FFN epilogue reverted).
set -x
W=/tmp/w4; mkdir -p $W
export PYTHONPATH=.
timeout 110 python benchmarks/pipeline_random.py --preset wan2.1-t2v-1.3b --resolution 832x480 --frames 81 --steps 4 \
  --attention sagesla --repeats 3 --json $W/pipeline_random_1.3b.json > $W/pipeline.log 2>&1
timeout 110 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,+graph --reps 2 --base-reps 1 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_1.3b_graph.json > $W/e2e.log 2>&1
echo done > $W/DONE
