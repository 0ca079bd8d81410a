#!/bin/bash
# The top-k kernel compiled for sm_90 before (the parent of the commit that added LOW_BITS) and after, no GPU;
# prints each compile's summary and the whole-kernel SASS instruction count. From the repository root:
#   bash benchmarks/runs/h200-2026-12-03c/local_scripts/topk_commands.sh BEFORE_COMMIT
set -e
export TRITON_DEFAULT_FP_FUSION=1 TRITON_CACHE_DIR=$(mktemp -d)
C="python benchmarks/runs/h200-2026-12-03b/local_scripts/sm90_compile.py"
OUT=$(mktemp -d)
git show "$1":turbodiffusion/attention/sla/topk_kernel.py \
  | sed 's/^from \.kernel_fwd/from turbodiffusion.attention.sla.kernel_fwd/' > $OUT/topk_before.py
count() { grep -cE "^\s+/\*[0-9a-f]{4,5}\*/" "$1"; }
for rb in "8 256" "2 1024"; do set -- $rb
  $C $OUT/topk_before.py _topk_lut_kernel --ptr S=bf16 LUT=i64 --divisible S LUT stride_s \
    --const BLOCK_R=$1 BLOCK_N=$2 WIDE=0 --warps 4 --sass $OUT/before.sass
  echo "before, $1 x $2: $(count $OUT/before.sass) instructions"
  $C turbodiffusion.attention.sla.topk_kernel _topk_lut_kernel --ptr S=bf16 LUT=i64 --divisible S LUT stride_s \
    --const BLOCK_R=$1 BLOCK_N=$2 LOW_BITS=16 WIDE=0 --warps 4 --sass $OUT/after.sass
  echo "after, $1 x $2: $(count $OUT/after.sass) instructions"
done
