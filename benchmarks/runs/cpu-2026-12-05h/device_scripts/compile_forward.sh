#!/bin/bash
# Does torch.compile pay on the Turbo forward? benchmarks/compile_forward.py at 1.3B-480p (SageSLA top-k 0.1,
# FP8 row-wise fast linears, fused ops): eager, CUDA graph, torch.compile default and
# max-autotune-no-cudagraphs, alternated; graph breaks and compile time recorded. cpu-2026-12-04f's call4.sh
# with three rounds under a cap (CAP seconds, default 380, so that the whole 14B's load can follow in the same
# device call); ARMS narrows the arms where less device time is left (the timed rounds start only once every
# arm is built).
set -x
export PYTHONPATH=.:benchmarks
timeout ${CAP:-380} python -u benchmarks/compile_forward.py wan2.1-t2v-1.3b --resolution 480p --rounds 3 \
  --arms ${ARMS:-eager,graph,compile,compile-max-autotune} \
  --json $OUT/compile_1.3b.json > $OUT/compile_1.3b.log 2>&1
tail -n 30 $OUT/compile_1.3b.log
