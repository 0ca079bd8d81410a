#!/bin/bash
# Device call 5 of 2026-12-04c: tests/attention/test_sla_kernel.py on the GPU with the fp32 launches at 16 warps
# for D > 64 (per-test limit 150 s; durations of every test).
set -x
timeout 330 python -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py --timeout 150 \
  --timeout-method thread --durations 0 -rfE > $OUT/call5_sla_kernel.log 2>&1
grep -v "^\s*$" $OUT/call5_sla_kernel.log | grep -v "0.00s" | head -60
