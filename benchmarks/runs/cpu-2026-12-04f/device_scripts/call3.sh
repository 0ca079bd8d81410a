#!/bin/bash
# For the next GPU machine, after call 2: Nsight Compute on one launch of each Sage kernel (the kernel, the
# reordered variant, the peel-only control) at 14B-720p and 1.3B-480p: every section, and per-SASS-
# instruction stall samples, to see where the compute warps wait.
set -x
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts
D=benchmarks/runs/cpu-2026-12-04f/device_scripts
which ncu; ncu --version | tail -1
timeout 400 ncu --clock-control none --profile-from-start off --set full --import-source no -k regex:_sage_sparse \
  -f -o /tmp/sage python -u $D/ncu_sage.py > $OUT/call3_ncu.log 2>&1
ls -la /tmp/sage.ncu-rep
ncu -i /tmp/sage.ncu-rep --page details --csv > $OUT/call3_details.csv 2>> $OUT/call3_ncu.log
ncu -i /tmp/sage.ncu-rep --page raw --csv | gzip -c > $OUT/call3_raw.csv.gz 2>> $OUT/call3_ncu.log
for k in _sage_sparse_wgmma_kernel _sage_sparse_wgmma_kernel_reorder _sage_sparse_wgmma_kernel_peel; do
  for skip in 0 1; do  # 14B-720p, then 1.3B-480p
    ncu -i /tmp/sage.ncu-rep --page source --print-source sass --csv -k $k --launch-skip $skip --launch-count 1 \
      > /tmp/src_${k}_${skip}.csv 2>&1
  done
done
tar czf $OUT/call3_source.tgz -C /tmp $(cd /tmp && ls src_*.csv)
gzip -c /tmp/sage.ncu-rep > $OUT/call3_sage.ncu-rep.gz
ls -la $OUT; tail -n 20 $OUT/call3_ncu.log
