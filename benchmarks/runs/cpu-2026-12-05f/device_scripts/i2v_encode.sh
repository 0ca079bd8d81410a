#!/bin/bash
# I2V's image encode with the steady tail (models/wan/vae_steady.py, on by default since 2026-12-05f,
# written without a GPU): its GPU tests (bf16, channels-last, fused norms on CUDA), then
# benchmarks/vae_encode.py at 480p and 720p: every frame through every stage against each stage's
# repeated frame once, alternated. 720p's chunk 20 runs alone last: every frame at once needs ~75 GB there.
set -x
export PYTHONPATH=.:benchmarks
timeout 150 python -m pytest -q -p no:cacheprovider tests/models/test_vae_steady.py tests/pipelines/test_i2v.py \
  > $OUT/i2v_encode_tests.log 2>&1
tail -n 5 $OUT/i2v_encode_tests.log
timeout 120 python -u benchmarks/vae_encode.py --resolution 480p --chunk-latents 1 4 20 \
  --json $OUT/vae_encode_480p.json > $OUT/vae_encode_480p.log 2>&1
tail -n 8 $OUT/vae_encode_480p.log
timeout 150 python -u benchmarks/vae_encode.py --resolution 720p --chunk-latents 1 4 \
  --json $OUT/vae_encode_720p.json > $OUT/vae_encode_720p.log 2>&1
tail -n 6 $OUT/vae_encode_720p.log
timeout 90 python -u benchmarks/vae_encode.py --resolution 720p --chunk-latents 20 --rounds 2 --reps 1 \
  --json $OUT/vae_encode_720p_c20.json > $OUT/vae_encode_720p_c20.log 2>&1
tail -n 4 $OUT/vae_encode_720p_c20.log
