#!/bin/bash
# For the next GPU machine, after call 3: does torch.compile pay on the Turbo forward? benchmarks/compile_forward.py
# at 1.3B-480p (SageSLA top-k 0.1, FP8 row-wise fast linears, fused ops): eager, CUDA graph, torch.compile
# default and max-autotune-no-cudagraphs, alternated; graph breaks and compile time recorded.
set -x
export PYTHONPATH=.:benchmarks
timeout 560 python -u benchmarks/compile_forward.py wan2.1-t2v-1.3b --resolution 480p \
  --json $OUT/call4_compile_1.3b.json > $OUT/call4_compile_1.3b.log 2>&1
tail -n 30 $OUT/call4_compile_1.3b.log
