#!/bin/bash
# GPU call 3 of gpu-2026-12-06e: the kernels' tests on the GPU at the tree (attention, quantisation, fused ops,
# models), each directory in its own pytest process, with a time limit each.
for d in tests/attention tests/quant tests/ops tests/models; do
  s=$(date +%s)
  timeout 170 python -m pytest -q -p no:cacheprovider $d > $OUT/$(basename $d).log 2>&1
  echo "$d rc $? $(( $(date +%s) - s ))s: $(tail -n 1 $OUT/$(basename $d).log)"
done
