#!/bin/bash
# Device call 4 of 2026-12-04c: call 3's suite stalled in tests/attention/test_sla_kernel.py; that file alone,
# each test limited to 60 s with the thread method (it prints every thread's stack on a timeout).
set -x
timeout 230 python -m pytest -q -p no:cacheprovider tests/attention/test_sla_kernel.py --timeout 60 \
  --timeout-method thread --durations 0 -rfE > $OUT/call4_sla_kernel.log 2>&1
grep -n -E "passed|failed|Timeout|File .*turbodiffusion|slowest|[0-9.]+s (call|setup)" $OUT/call4_sla_kernel.log | head -60
