#!/bin/bash
# The record's local sm_90 compiles (no GPU; Triton 3.9 with its bundled ptxas), from the repository root:
#   bash benchmarks/runs/h200-2026-12-03b/local_scripts/commands.sh
set -e
export TRITON_DEFAULT_FP_FUSION=1 TRITON_CACHE_DIR=$(mktemp -d)  # a fresh cache: compile times are real
L=benchmarks/runs/h200-2026-12-03b/local_scripts
C="python $L/sm90_compile.py"
OLD=$(mktemp -d)/kernel_fwd_before.py  # the linear-branch kernel before 026e8c4, imports made absolute
git show 2f1b022:turbodiffusion/attention/sla/kernel_fwd.py \
  | sed 's/^from \.\.\./from turbodiffusion./; s/^from \.\./from turbodiffusion.attention./' > $OLD

LIN="--ptr Q=bf16 KV=bf16 WT=bf16 M=bf16 Out=bf16 KSUM=fp32 BIAS=fp32 --float eps
     --divisible Q Out KSUM BIAS sqb sql sqh sob sol soh"
for w in 4 8; do
  $C $OLD _linear_branch_kernel $LIN --const D=128 BLOCK_M=64 PRECISION=tf32 WIDE=0 --warps $w
  $C turbodiffusion.attention.sla.kernel_fwd _linear_branch_kernel $LIN --const D=128 BLOCK_M=64 \
    PRECISION=tf32 WIDE=0 --warps $w
done

KV="--ptr K=bf16 V=bf16 KV=fp32 KSUM=fp32 KCOL=fp32 VMAX=fp32
    --divisible K V KV KSUM KCOL VMAX skb skl skh svb svl svh ROWS_PER_SPLIT"
for stats in 1 0; do
  $C turbodiffusion.attention.sla.kernel_fwd _kv_summary_kernel $KV --const D=128 BLOCK_L=128 STATE=1 \
    STATS=$stats PRECISION=tf32 WIDE=0 --warps 4
done
$C turbodiffusion.attention.sla.kernel_fwd _kv_summary_kernel $KV --const D=128 BLOCK_L=128 STATE=1 STATS=0 \
  PRECISION=tf32 WIDE=0 --warps 8
for wb in "8 128" "4 64"; do set -- $wb
  $C $L/kv_summary_column_split.py _kv_summary_kernel $KV --const D=128 BLOCK_L=$2 STATE=1 STATS=0 \
    PRECISION=tf32 WIDE=0 DV=64 --warps $1
done

# fp32 (ieee) backward kernels of test_sla_kernel.py's fourth case: compile time of one config each.
BWD="--ptr Q=fp32 K=fp32 V=fp32 DO=fp32 DQ=fp32 DK=fp32 DV=fp32 LUT=i32 QLUT=i32 QCOUNT=i32 LSE=fp32
     DELTA=fp32 DQLIN=fp32 DKV=fp32 DKSUM=fp32 --float qk_scale sm_scale"
$C turbodiffusion.attention.sla.kernel_bwd _sla_bwd_dq_kernel $BWD --const D=128 BLKQ=128 BLKK=64 BLOCK_M=128 \
  PRECISION=ieee WIDE=0 --warps 8 --stages 3
$C turbodiffusion.attention.sla.kernel_bwd _sla_bwd_dkdv_kernel $BWD --const D=128 BLKQ=128 BLKK=64 BLOCK_M=64 \
  PRECISION=ieee WIDE=0 --warps 8 --stages 3
