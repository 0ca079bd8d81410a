#!/bin/bash
# Device call 6 of 2026-12-04: per-thread row sums in the sm_90 Sage kernel against the kernel at 8fffc09
# (GPU tests, one layer, whole forwards).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts
D=benchmarks/runs/h200-2026-12-04/device_scripts
timeout 100 python -m pytest -q tests/attention/test_sage_wgmma.py \
  "tests/attention/test_sage.py::test_sagesla_kernel_matches_its_reference" > $OUT/call6_gpu_tests.log 2>&1
tail -n 4 $OUT/call6_gpu_tests.log
timeout 260 python -u $D/rowsum_ab.py $OUT/call6_rowsum_ab.json > $OUT/call6_rowsum_ab.log 2>&1
tail -n 14 $OUT/call6_rowsum_ab.log
