#!/bin/bash
# Device call 3 of 2026-12-03h (the tree with the loader partitions and permuted P~ / V^T in kernel_wgmma.py):
# GPU tests of the Sage kernels, whole forwards against the kernel at 657d349, the 1.3B table.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03h/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call3_gpu.txt
timeout 120 python -m pytest -q tests/attention/test_sage_wgmma.py \
  "tests/attention/test_sage.py::test_quantisers_match_their_references_exactly" \
  "tests/attention/test_sage.py::test_sagesla_kernel_matches_its_reference" > $OUT/call3_gpu_tests.log 2>&1
tail -n 5 $OUT/call3_gpu_tests.log
timeout 170 python -u $D/forward_ab.py $OUT/call3_forward_ab.json > $OUT/call3_forward_ab.log 2>&1
tail -n 2 $OUT/call3_forward_ab.log
timeout 170 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call3_e2e_1.3b_480p.json > $OUT/call3_e2e_1.3b.log 2>&1
tail -n 14 $OUT/call3_e2e_1.3b.log
