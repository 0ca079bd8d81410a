#!/bin/bash
# GPU call 1 of gpu-2026-12-06e: FP8 GEMM rates at every Wan block shape and q, k, v as one GEMM; the Sage
# kernel's cost a tile and a program.
export PYTHONPATH=.:benchmarks
D=benchmarks/runs/gpu-2026-12-06e/device_scripts
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
timeout 200 python -u $D/gemm_shapes.py $OUT/gemm_shapes.json > $OUT/gemm_shapes.log 2>&1; echo "gemm rc $?"
cat $OUT/gemm_shapes.log | cut -c1-400
timeout 300 python -u $D/sage_tiles.py $OUT/sage_tiles.json > $OUT/sage_tiles.log 2>&1; echo "sage rc $?"
cat $OUT/sage_tiles.log | cut -c1-400
