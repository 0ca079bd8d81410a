#!/usr/bin/env bash
# Reproduce the built-in default model (turbodiffusion/assets/default) from nothing, as it was made:
# caption bank on any machine, the rest on one GPU (an H100 took about 15 minutes in total).
#   bash scripts/train_default_model.sh [WORK_DIR]
# Then evaluate it: python -m turbodiffusion.eval.synthetic --device cuda
set -euo pipefail
work="${1:-work_default}"
python -m turbodiffusion.default_model.train bank --work "$work" --device cpu
python -m turbodiffusion.default_model.train vae teacher --work "$work"
python -m turbodiffusion.default_model.train student sla time export --work "$work" --out turbodiffusion/assets/default
