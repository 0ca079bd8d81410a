#!/bin/bash
# Whole 1.3B-480p forwards with cuBLASLt's default workspace against none (workspace_forward_ab.py), two
# processes an arm, alternated.
set -x
export PYTHONPATH=.:benchmarks
timeout 240 python -u benchmarks/runs/gpu-2026-12-06b/device_scripts/workspace_forward_ab.py wan2.1-t2v-1.3b \
  480p --procs 2 --json $OUT/workspace_ab_1.3b.json > $OUT/workspace_ab_1.3b.log 2>&1
tail -n 6 $OUT/workspace_ab_1.3b.log | cut -c1-800
