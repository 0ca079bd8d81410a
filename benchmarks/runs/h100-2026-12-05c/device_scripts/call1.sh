#!/bin/bash
# Device call 1 of h100-2026-12-05c (carry [".minilm"] and work_default/peer): the official 1.0.0 sdist built
# for sm_90 in the background (cores 4-15) while the default model's first call is profiled (cores 0-3,
# h100-2026-12-05b's call2.sh); then the peer pair on the H100, which had only been measured on H200s
# (1.3B-480p with the Turbo row beside it); then quantize_load.py's new arms (the quantised DiT's trip to
# the GPU and back and the first call's move, against quantize_(..., to_device=True)) at 1.3B and 14B.
set -x
export PYTHONPATH=.:benchmarks
rm -f /tmp/peer_rc
(mkdir -p /tmp/peer && tar xzf work_default/peer/turbodiffusion-1.0.0.tar.gz -C /tmp/peer --strip-components=1 \
  && cd /tmp/peer && sed -i '/compute_120a\|compute_89\|compute_80/d' setup.py \
  && MAX_JOBS=10 taskset -c 4-15 python setup.py build_ext --inplace > $OUT/peer_build.log 2>&1; echo $? > /tmp/peer_rc) &
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/gpu.txt
taskset -c 0-3 bash benchmarks/runs/h100-2026-12-05b/device_scripts/call2.sh
tail -n 3 $OUT/peer_build.log
timeout 240 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p \
  --rows baseline,+SLA,ours@peer,peer,turbo-fp8-fast --reps 3 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --peer /tmp/peer --peer-wait-file /tmp/peer_rc --peer-wait-s 240 \
  --json $OUT/e2e_peer_1.3b_480p.json > $OUT/e2e_peer_1.3b_480p.log 2>&1
tail -n 16 $OUT/e2e_peer_1.3b_480p.log
timeout 60 python -u benchmarks/quantize_load.py wan2.1-t2v-1.3b --modes fp8-row int8 \
  --json $OUT/quantize_load_1.3b.json > $OUT/quantize_load_1.3b.log 2>&1
tail -n 4 $OUT/quantize_load_1.3b.log
timeout 240 python -u benchmarks/quantize_load.py wan2.1-t2v-14b --modes fp8-row \
  --json $OUT/quantize_load_14b.json > $OUT/quantize_load_14b.log 2>&1
tail -n 4 $OUT/quantize_load_14b.log
