#!/bin/bash
# Device call 1 of 2026-12-03d: Nsight Compute over one 1-block forward at 1.3B-480p (every kernel, full
# set, clocks left alone), its pages exported as CSV; then the block-selection benchmark (top-k LOW_BITS).
set -x
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/h200-2026-12-03d/device_scripts
which ncu; ncu --version | tail -1
timeout 330 ncu --clock-control none --profile-from-start off --set full --import-source no -f \
  -o /tmp/fwd13 python -u $D/ncu_forward.py wan2.1-t2v-1.3b 480p 1 > $OUT/call1_ncu.log 2>&1
ls -la /tmp/fwd13.ncu-rep
ncu -i /tmp/fwd13.ncu-rep --page details --csv > $OUT/call1_details.csv 2>> $OUT/call1_ncu.log
ncu -i /tmp/fwd13.ncu-rep --page raw --csv > /tmp/raw.csv 2>> $OUT/call1_ncu.log
gzip -c /tmp/raw.csv > $OUT/call1_raw.csv.gz
for k in _sage_sparse_wgmma_kernel _kv_summary_kernel _linear_branch_kernel _row_quant_kernel; do
  ncu -i /tmp/fwd13.ncu-rep --page source --print-source sass --csv -k $k --launch-count 1 > /tmp/src_$k.csv 2>&1
done
tar czf $OUT/call1_source.tgz -C /tmp $(cd /tmp && ls src_*.csv)
gzip -c /tmp/fwd13.ncu-rep > $OUT/call1_fwd13.ncu-rep.gz
ls -la $OUT
timeout 120 python -u benchmarks/block_selection.py --json $OUT/call1_block_selection.json > $OUT/call1_block_selection.log 2>&1
tail -n 20 $OUT/call1_block_selection.log; tail -n 30 $OUT/call1_ncu.log
