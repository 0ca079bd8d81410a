#!/bin/bash
# GPU call 3 of gpu-2026-12-06d: the FP8 GEMM's bytes with and without cuBLASLt's workspace (GPU test), then the
# 1.3B-480p Turbo row end to end with e2e.py's new default (no workspace, as `generate` now runs) and with
# --keep-cublaslt-workspace, one process each, alternated, twice, five timed text encodes a process.
export PYTHONPATH=.:benchmarks
timeout 120 python -m pytest -q -p no:cacheprovider tests/pipelines/test_gemm_workspace.py 2>&1 | tail -n 3
for i in 0 1; do for arm in none keep; do
  flag=""; [ $arm = keep ] && flag=--keep-cublaslt-workspace
  s=$(date +%s)
  timeout 140 python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows turbo-fp8-fast --reps 3 \
    --base-reps 1 --loops final --loop-reps 2 --stage-reps 5 --vae-chunk-latents 20 $flag \
    --json $OUT/e2e_13b_${arm}_$i.json > $OUT/e2e_13b_${arm}_$i.log 2>&1
  echo "$arm $i rc $? $(( $(date +%s) - s ))s"; tail -n 9 $OUT/e2e_13b_${arm}_$i.log | cut -c1-300
done; done
