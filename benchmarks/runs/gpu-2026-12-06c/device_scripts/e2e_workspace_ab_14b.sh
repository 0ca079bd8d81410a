#!/bin/bash
# For the next GPU machine: the 14B Turbo row end to end (text, diffusion loop, decode) with cuBLASLt's default
# workspace and without one, one process each, alternated: whether CUBLASLT_WORKSPACE_SIZE=0, which speeds the
# 14B's steps up by 1.4-2.2% and slows the text encoder (this run's call 2 at 1.3B), pays end to end.
# Usage: e2e_workspace_ab_14b.sh RESOLUTION [VAE_CHUNK] (480p or 720p; VAE chunk 20 overruns an H100 at 720p: 12)
export PYTHONPATH=.:benchmarks
res=${1:-480p}
chunk=${2:-20}
for arm in default ws0; do
  if [ $arm = ws0 ]; then export CUBLASLT_WORKSPACE_SIZE=0; else unset CUBLASLT_WORKSPACE_SIZE; fi
  s=$(date +%s)
  timeout 270 python benchmarks/e2e.py wan2.1-t2v-14b --resolution $res --rows turbo-fp8-fast --reps 2 \
    --base-reps 1 --loops final --loop-reps 1 --stage-reps 5 --vae-chunk-latents $chunk \
    --json $OUT/e2e_14b_${res}_${arm}.json > $OUT/e2e_14b_${res}_${arm}.log 2>&1
  echo "$arm rc $? $(( $(date +%s) - s ))s"; tail -n 12 $OUT/e2e_14b_${res}_${arm}.log | cut -c1-300
done
