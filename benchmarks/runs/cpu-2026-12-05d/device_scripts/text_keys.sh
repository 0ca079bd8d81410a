#!/bin/bash
# The text padding as weighted keys (models.wan.text_padding, written 2026-12-05d without a GPU): its GPU
# tests (the biased SDPA must run on a fused kernel, not the math path; CUDA graphs of a weighted-padding
# forward equal eager runs), then benchmarks/text_keys.py (the full 512-row context against the pipeline's
# trimmed one for prompts of 24, 120 and 240 tokens, SDPA alone and a later step's graphed Turbo forward)
# at 1.3B-480p and 14B-720p.
set -x
export PYTHONPATH=.:benchmarks
timeout 180 python -m pytest -q -p no:cacheprovider tests/models/test_text_padding.py \
  tests/pipelines/test_forward_graphs.py > $OUT/text_keys_tests.log 2>&1
tail -n 5 $OUT/text_keys_tests.log
timeout 150 python -u benchmarks/text_keys.py wan2.1-t2v-1.3b --resolution 480p \
  --json $OUT/text_keys_1.3b_480p.json > $OUT/text_keys_1.3b_480p.log 2>&1
tail -n 20 $OUT/text_keys_1.3b_480p.log
timeout 240 python -u benchmarks/text_keys.py wan2.1-t2v-14b --resolution 720p --rounds 2 --reps 3 \
  --json $OUT/text_keys_14b_720p.json > $OUT/text_keys_14b_720p.log 2>&1
tail -n 20 $OUT/text_keys_14b_720p.log
