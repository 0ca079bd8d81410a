#!/bin/bash
# Device call 2 of h100-2026-12-05c, on the machine call 1 left warm (its /tmp/peer build): Wan2.2's two
# experts through the pipeline (cpu-2026-12-04g's call9.sh: swap against auto), then the peer pair at
# 14B-720p per forward.
set -x
export PYTHONPATH=.:benchmarks
timeout 330 bash benchmarks/runs/cpu-2026-12-04g/device_scripts/call9.sh
[ -f /tmp/peer_rc ] && timeout 220 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,ours@peer,peer --reps 2 --base-reps 1 --loops none --stage-reps 1 --vae-chunk-latents 4 \
  --peer /tmp/peer --json $OUT/e2e_peer_14b_720p.json > $OUT/e2e_peer_14b_720p.log 2>&1
tail -n 14 $OUT/e2e_peer_14b_720p.log
