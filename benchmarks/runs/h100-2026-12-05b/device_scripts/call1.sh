#!/bin/bash
# Device call 1 of h100-2026-12-05b: the A14B i2v and 14B t2v 720p tables on an H100 with the steady tail
# (I2V's encode), decoding in chunks of 4 latent frames (chunks of 20 at 720p overrun an H100's 80 GB);
# then the causal-conv3d tests, fixed to put their tensors on the GPU, run there.
set -x
export PYTHONPATH=.:benchmarks
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/gpu.txt
timeout 290 python -u benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p \
  --rows baseline,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 4 --json $OUT/e2e_a14b_720p.json > $OUT/e2e_a14b_720p.log 2>&1
tail -n 12 $OUT/e2e_a14b_720p.log
timeout 60 python -m pytest -q -p no:cacheprovider tests/ops/test_causal_conv3d.py -rfEs > $OUT/conv_tests.log 2>&1
tail -n 5 $OUT/conv_tests.log
timeout 210 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 4 --json $OUT/e2e_14b_720p.json > $OUT/e2e_14b_720p.log 2>&1
tail -n 12 $OUT/e2e_14b_720p.log
