#!/bin/bash
# Device call 5 of 2026-12-02h: the pipeline on the GPU with each W8A8 mode (the random-weight preset: the
# default model's text encoder package is not installed there). Writing the mp4 failed (no PyAV there).
export PYTHONPATH=.
for q in int8 fp8-row; do
  timeout 120 python -m turbodiffusion.cli generate "a red circle moving right" --model builtin-random --quant $q \
    -o $OUT/out_$q.mp4 > $OUT/gen_$q.log 2>&1
done
