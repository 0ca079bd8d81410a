#!/bin/bash
# Device call 3 of 2026-12-03h (the tree with kernel_wgmma's loader partitions and permuted P~ / V^T, and the
# Gluon K/V summary): GPU tests of both kernels, the summary's sweep, whole forwards against the earlier
# kernels.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03h/device_scripts
nvidia-smi --query-gpu=name,clocks.sm,power.limit --format=csv > $OUT/call3_gpu.txt
timeout 150 python -m pytest -q tests/attention/test_sage_wgmma.py tests/attention/test_kv_summary_wgmma.py \
  "tests/attention/test_sage.py::test_quantisers_match_their_references_exactly" \
  "tests/attention/test_sage.py::test_sagesla_kernel_matches_its_reference" \
  tests/attention/test_sla_kernel.py -k "summarize_kv or wgmma or quantisers or sagesla" > $OUT/call3_gpu_tests.log 2>&1
tail -n 5 $OUT/call3_gpu_tests.log
timeout 60 python -u $D/kv_summary_sweep.py $OUT/call3_kv_summary_sweep.json > $OUT/call3_kv_summary_sweep.log 2>&1
tail -n 3 $OUT/call3_kv_summary_sweep.log
timeout 240 python -u $D/forward_ab.py $OUT/call3_forward_ab.json > $OUT/call3_forward_ab.log 2>&1
tail -n 2 $OUT/call3_forward_ab.log
