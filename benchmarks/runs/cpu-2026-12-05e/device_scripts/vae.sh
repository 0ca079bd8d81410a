#!/bin/bash
# The VAE decoder's sub-pixel upsampling (WanVAE.use_subpixel_upsampling, on in the pipeline since 1565591,
# written 2026-12-05e without a GPU) and the Triton conv kernel for its 96 -> 3 head (ops.causal_conv3d, opt-in
# through WanVAE.use_conv_kernel): their GPU tests; benchmarks/vae_decode.py side by side at 480p (chunk 20,
# per-convolution times of the last variant, then of the sub-pixel one alone); benchmarks/vae_conv.py (the
# decoder's 3x3x3 convolutions alone, cuDNN against the kernel's tilings); a new process's first decode; and
# vae_decode.py at 720p (chunk 4: chunk 20 needs 99 GiB).
set -x
export PYTHONPATH=.:benchmarks
timeout 240 python -m pytest -q -p no:cacheprovider tests/ops/test_causal_conv3d.py tests/models/test_vae_upsample.py \
  tests/models/test_vae.py > $OUT/vae_tests.log 2>&1
tail -n 5 $OUT/vae_tests.log
V=channels_last+fused,channels_last+fused+subpixel,channels_last+fused+subpixel+conv16,channels_last+fused+subpixel+convall
timeout 150 python -u benchmarks/vae_decode.py --resolution 480p --variants $V --chunk-latents 20 --reps 5 \
  --layers --json $OUT/vae_480p.json > $OUT/vae_480p.log 2>&1
tail -n 28 $OUT/vae_480p.log
# The kernel's decision next (before the parts a cut at the call's deadline would lose first).
timeout 240 python -u benchmarks/vae_conv.py --resolution 480p --json $OUT/vae_conv_480p.json \
  > $OUT/vae_conv_480p.log 2>&1
tail -n 40 $OUT/vae_conv_480p.log
timeout 90 python -u benchmarks/vae_decode.py --resolution 480p --variants channels_last+fused+subpixel \
  --chunk-latents 20 --reps 1 --layers --json $OUT/vae_480p_layers_subpixel.json > $OUT/vae_480p_layers_subpixel.log 2>&1
tail -n 24 $OUT/vae_480p_layers_subpixel.log
# A new process's first decode, Triton's disk cache now warm: cuDNN's (it plans each shape again in every
# process) against every causal convolution on the kernel (first_call_s of each JSON).
for v in channels_last+fused+subpixel channels_last+fused+subpixel+convall; do
  timeout 60 python -u benchmarks/vae_decode.py --resolution 480p --variants $v --chunk-latents 20 --reps 1 \
    --json $OUT/vae_480p_first_$v.json > $OUT/vae_480p_first_$v.log 2>&1
  tail -n 3 $OUT/vae_480p_first_$v.log
done
timeout 200 python -u benchmarks/vae_decode.py --resolution 720p --variants $V --chunk-latents 4 --reps 3 \
  --json $OUT/vae_720p.json > $OUT/vae_720p.log 2>&1
tail -n 8 $OUT/vae_720p.log
