#!/bin/bash
# Device call 2 of 2026-12-02h: GPU tests of the FP8 row-wise paths, the row-quantiser launch sweep, the 1.3B
# profile (bf16 vs FP8 row-wise linears) and the 1.3B e2e rows, after the hardware fp8 cast (call 1 emulated it).
set -x
W=/tmp/w2; mkdir -p $W
export PYTHONPATH=.
timeout 180 python -m pytest -q -p no:cacheprovider tests/quant/test_row_quant.py tests/quant/test_fp8_row_linear.py \
  tests/ops/test_norm_modulate.py tests/models/test_dit_fused.py > $W/gpu_tests.log 2>&1
timeout 150 python benchmarks/runs/h200-2026-12-02h/device_scripts/rowquant_sweep.py $W/rowquant_sweep.json \
  > $W/rowquant_sweep.log 2>&1
timeout 150 python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fp8row+fused,sagesla+fp8row-fast+fused \
  --json $W/profile_1.3b.json > $W/profile.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,+SageSLA,+W8A8,turbo-bf16,turbo-fp8,turbo-fp8-fast --reps 3 \
  --base-reps 1 --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_1.3b_480p.json \
  > $W/e2e_1.3b.log 2>&1
echo done > $W/DONE
