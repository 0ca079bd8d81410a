#!/bin/bash
# For the next GPU machine, after call 5: the i2v image encode in larger chunks (the pipeline now encodes,
# as it decodes, as many latent frames a call as free memory holds). e2e.py at Wan2.2 I2V A14B 720p times the
# encode and the decode at 1, 4 and 20 latent frames a call, each setting's added memory (added_gib_*) beside
# it, to check vae_chunk_latents's rule (12,288 + 4,096 (c - 1) bytes an output pixel) against the GPU; and
# the turbo-fp8-fast row (the baseline row always runs: one forward timed).
set -x
export PYTHONPATH=.:benchmarks
timeout 560 python -u benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p --rows turbo-fp8-fast \
  --reps 2 --base-reps 1 --loops all --loop-reps 1 --stage-reps 2 --vae-chunk-latents 1 4 20 \
  --json $OUT/call6_e2e_a14b_720p.json > $OUT/call6_e2e_a14b_720p.log 2>&1
tail -n 40 $OUT/call6_e2e_a14b_720p.log
