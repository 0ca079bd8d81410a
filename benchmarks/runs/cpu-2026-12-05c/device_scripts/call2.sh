#!/bin/bash
# Nsight Compute on one launch of kernel_wgmma and of sage_sync's kernel at 14B-720p and 1.3B-480p: every
# section, and the per-SASS-instruction stall samples (source page) of the two 14B-720p launches, to see
# where the compute warps wait. Everything goes into one archive (8 files come back at most).
set -x
source benchmarks/runs/cpu-2026-12-05c/device_scripts/env.sh
D=benchmarks/runs/cpu-2026-12-05c/device_scripts
W=/tmp/ncu_sync && mkdir -p $W
which ncu; ncu --version | tail -1
timeout 300 ncu --clock-control none --profile-from-start off --set full --import-source no -k regex:_sage_sparse \
  -f -o $W/sage python -u $D/ncu_sync.py > $W/ncu.log 2>&1
ncu -i $W/sage.ncu-rep --page details --csv > $W/details.csv 2>> $W/ncu.log
for k in _sage_sparse_wgmma_kernel; do
  for skip in 0 1; do  # 14B-720p: the committed kernel, then sync's (same name, other module)
    ncu -i $W/sage.ncu-rep --page source --print-source sass --csv -k $k --launch-skip $skip --launch-count 1 \
      > $W/source_14b_720p_$skip.csv 2>> $W/ncu.log
  done
done
ls -la $W; tail -n 8 $W/ncu.log
tar czf $OUT/ncu_sync.tgz -C $W details.csv ncu.log $(cd $W && ls source_*.csv)
