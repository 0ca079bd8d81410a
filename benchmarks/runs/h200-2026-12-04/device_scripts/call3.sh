#!/bin/bash
# Device call 3 of 2026-12-04: VAE decode with cuDNN's algorithm search off (default) and on.
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-04/device_scripts
timeout 300 python -u $D/vae_cudnn.py $OUT/call3_vae_cudnn.json > $OUT/call3_vae_cudnn.log 2>&1
tail -n 12 $OUT/call3_vae_cudnn.log
