#!/bin/bash
# Device call 2 of 2026-12-03: the Sage kernel's FOLD and register-cap variants.
set -x
D=benchmarks/runs/h200-2026-12-03/device_scripts
PYTHONPATH=.:$D timeout 200 python $D/sage_variants_sweep.py $OUT/call2_sage_variants.json > $OUT/call2_variants.log 2>&1
