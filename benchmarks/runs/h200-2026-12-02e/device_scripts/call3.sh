#!/bin/bash
# Device call 3 of 2026-12-02e: GPU tests of the new paths, then the e2e tables (1.3B full, 14B 720p,
# Wan2.2 A14B 720p, 14B 480p). Each e2e run writes its JSON after every model, so a cut run keeps rows.
set -x
W=/tmp/w3; mkdir -p $W
export PYTHONPATH=.
python -m pytest -q -p no:cacheprovider tests/ops/test_channel_rms_norm.py tests/models/test_vae.py tests/pipelines/test_pipeline.py -k "fused or buffer or channel or fast" > $W/gpu_tests.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --reps 3 --loops all --loop-reps 1 --stage-reps 2 --vae-chunk-latents 1 4 20 --json $W/e2e_1.3b_480p.json > $W/e2e_1.3b.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --rows baseline,+graph --reps 2 --base-reps 2 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 4 20 --json $W/e2e_14b_720p.json > $W/e2e_14b_720p.log 2>&1
python benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p --rows baseline,+rCM,+graph --reps 2 --base-reps 2 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 4 20 --json $W/e2e_a14b_720p.json > $W/e2e_a14b_720p.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,+graph,turbo-bf16 --reps 2 --base-reps 2 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 4 20 --json $W/e2e_14b_480p.json > $W/e2e_14b_480p.log 2>&1
echo done > $W/DONE
