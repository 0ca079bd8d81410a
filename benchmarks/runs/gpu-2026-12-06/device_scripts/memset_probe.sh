#!/bin/bash
# gemm_memset_probe.py: the memsets around cuBLASLt's GEMMs at 1.3B's shapes, by workspace setting.
set -x
timeout ${CAP:-150} python -u benchmarks/runs/gpu-2026-12-06/device_scripts/gemm_memset_probe.py \
  --json $OUT/memset_probe.json > $OUT/memset_probe.log 2>&1
grep -h '"call"' $OUT/memset_probe.log | cut -c1-400 | tail -n 40
