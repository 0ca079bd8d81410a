#!/bin/bash
# GPU call 2 of gpu-2026-12-06c (at c7de2de, as run inline): the 1.3B-480p Turbo row end to end (text, diffusion loop,
# decode) with cuBLASLt's default workspace and without one, one process each, alternated, twice.
export PYTHONPATH=.:benchmarks
for i in 0 1; do for arm in default ws0; do
  if [ $arm = ws0 ]; then export CUBLASLT_WORKSPACE_SIZE=0; else unset CUBLASLT_WORKSPACE_SIZE; fi
  s=$(date +%s)
  timeout 140 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows turbo-fp8-fast --reps 3 \
    --base-reps 1 --loops final --loop-reps 2 --stage-reps 2 --vae-chunk-latents 20 \
    --json $OUT/e2e_13b_${arm}_$i.json > $OUT/e2e_13b_${arm}_$i.log 2>&1
  echo "$arm $i rc $? $(( $(date +%s) - s ))s"; tail -n 12 $OUT/e2e_13b_${arm}_$i.log | cut -c1-300
done; done
