#!/bin/bash
# Device call 3 of 2026-12-03f: a fourth switch of the Sage kernel (per-thread row sums) against the adopted
# kernel; call 2's one failing GPU test run on this tree and on 4b9cfcf's Sage files (at_4b9cfcf/: was it
# failing before?); the 1.3B-480p and 14B-720p tables. The call shipped 4b9cfcf's three Sage files in a folder
# at_4b9cfcf/ beside this script; the record rebuilds them from git instead (the lines below).
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03f/device_scripts
export TRITON_DEFAULT_FP_FUSION=1
D=benchmarks/runs/h200-2026-12-03f/device_scripts
S=turbodiffusion/attention/sage
timeout 100 python -u $D/sage_bench.py $OUT/call3_sage_bench.json --variants copy,fold+prefetch+lazy \
  > $OUT/call3_sage_bench.log 2>&1
tail -n 6 $OUT/call3_sage_bench.log
T="tests/attention/test_sage.py::test_dense_kernel_matches_the_lossy_reference"
timeout 60 python -u -m pytest -q -p no:cacheprovider "$T" > $OUT/call3_dense_test_this_tree.log 2>&1
tail -n 3 $OUT/call3_dense_test_this_tree.log
mkdir -p /tmp/now && cp $S/kernel.py $S/reference.py $S/kernel_wgmma.py /tmp/now/
for f in kernel.py reference.py kernel_wgmma.py; do git show 4b9cfcf:$S/$f > $S/$f; done
timeout 60 python -u -m pytest -q -p no:cacheprovider "$T" > $OUT/call3_dense_test_4b9cfcf.log 2>&1
tail -n 3 $OUT/call3_dense_test_4b9cfcf.log
cp /tmp/now/*.py $S/
git diff --stat -- $S
timeout 190 python -u benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --rows baseline,turbo-fp8,turbo-fp8-fast \
  --reps 3 --base-reps 1 --loops final --loop-reps 2 --stage-reps 1 --vae-chunk-latents 20 \
  --json $OUT/call3_e2e_1.3b_480p.json > $OUT/call3_e2e_1.3b.log 2>&1
tail -n 12 $OUT/call3_e2e_1.3b.log
timeout 200 python -u benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p \
  --rows baseline,turbo-fp8,turbo-fp8-fast --reps 2 --base-reps 1 --loops final --loop-reps 1 \
  --stage-reps 1 --vae-chunk-latents 20 --json $OUT/call3_e2e_14b_720p.json > $OUT/call3_e2e_14b_720p.log 2>&1
tail -n 12 $OUT/call3_e2e_14b_720p.log
