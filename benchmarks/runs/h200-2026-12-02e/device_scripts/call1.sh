#!/bin/bash
# Device call 1 of 2026-12-02e: diagnosis (linear incl. cuBLASLt blockwise FP8, VAE variants, DiT profile),
# GPU tests, 14B offload. Writes to /tmp/w (copied to $OUT by the polling calls).
set -x
W=/tmp/w; mkdir -p $W
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total --format=csv > $W/gpu.txt
python benchmarks/vae_decode.py --resolution 480p --chunk-latents 4 20 --profile --json $W/vae_480p.json > $W/vae.log 2>&1
python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sdpa+fused,sagesla+fused,sagesla+int8+fused,sagesla+fp8+fused --json $W/profile_1.3b.json > $W/profile.log 2>&1
python benchmarks/linear.py --json $W/linear.json > $W/linear.log 2>&1
python -m pytest -q -x tests/ops/test_channel_rms_norm.py tests/models/test_vae.py tests/pipelines/test_block_offload.py tests/pipelines/test_residency.py -p no:cacheprovider > $W/gpu_tests.log 2>&1
python benchmarks/offload.py wan2.1-t2v-14b --resolution 480p --depths 1 --json $W/offload_14b.json > $W/offload.log 2>&1
echo done > $W/DONE
