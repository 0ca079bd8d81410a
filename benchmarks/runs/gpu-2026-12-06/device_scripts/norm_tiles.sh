#!/bin/bash
# The norm kernel in equal tiles against 4c5eaac's (norm_tiles_ab.py), then the GPU tests of the norms and of
# the fused forward. CAP seconds for the A/B (default 360); SKIP14=1 leaves out the 14B-720p forwards.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/gpu-2026-12-06/device_scripts
timeout ${CAP:-360} python -u $D/norm_tiles_ab.py $OUT/norm_tiles_ab.json ${SKIP14:+--skip-14b-forward} \
  > $OUT/norm_tiles_ab.log 2>&1
grep -h '"part"' $OUT/norm_tiles_ab.log | cut -c1-330
timeout 110 python -u -m pytest -q -p no:cacheprovider tests/ops/test_norm_modulate.py tests/ops/test_rms_norm.py \
  tests/models/test_dit_fused.py > $OUT/norm_gpu_tests.log 2>&1
tail -n 3 $OUT/norm_gpu_tests.log
