#!/bin/bash
# The README's H100 table in one device call (about 7 minutes, going by the three calls' times): the four
# targets' e2e tables, baseline and turbo-fp8-fast rows, each decode (and I2V encode) at 4, 12 and 20 latent
# frames a call (a setting that does not fit the GPU is recorded as such and the others count).
# h100-2026-12-05b measured the same rows in three calls (its README); this gathers them for a rerun.
# Usage: bash .../tables.sh [1.3b 14b-480p 14b-720p a14b]
set -x
export PYTHONPATH=.:benchmarks
COMMON="--rows baseline,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 4 12 20"
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv > $OUT/tables_gpu.txt
for table in ${@:-1.3b 14b-480p 14b-720p a14b}; do
  case $table in
    1.3b) args="wan2.1-t2v-1.3b --resolution 480p" ;;
    14b-480p) args="wan2.1-t2v-14b --resolution 480p" ;;
    14b-720p) args="wan2.1-t2v-14b --resolution 720p" ;;
    a14b) args="wan2.2-i2v-a14b --resolution 720p" ;;
    *) echo "unknown table $table (1.3b, 14b-480p, 14b-720p, a14b)"; exit 2 ;;
  esac
  timeout 200 python -u benchmarks/e2e.py $args $COMMON --json $OUT/tables_$table.json > $OUT/tables_$table.log 2>&1
  tail -n 9 $OUT/tables_$table.log
done
