#!/bin/bash
# Device call 2 of 2026-12-02f: GPU tests of the new paths, then e2e 1.3B (all rows + the official
# package's peer row, built in the background), the 1.3B profile, and the 14B tables.
set -x
W=/tmp/w2; mkdir -p $W
export PYTHONPATH=.
(mkdir -p /tmp/peer && tar xzf work_default/peer/turbodiffusion-1.0.0.tar.gz -C /tmp/peer --strip-components=1 \
  && cd /tmp/peer && sed -i '/compute_120a\|compute_89\|compute_80/d' setup.py \
  && MAX_JOBS=12 python setup.py build_ext --inplace > $W/peer_build.log 2>&1; echo $? > $W/peer_rc) &
timeout 240 python -m pytest -q -p no:cacheprovider tests/ops/test_linear_gelu.py tests/attention/test_sla_block_map.py \
  tests/attention/test_sage.py tests/ops/test_rms_norm_rope.py tests/models/test_dit.py tests/models/test_dit_fused.py \
  tests/quant/test_gemm.py tests/quant/test_int8_linear.py > $W/gpu_tests.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --reps 3 --loops all --loop-reps 1 --stage-reps 2 \
  --vae-chunk-latents 20 --peer /tmp/peer --peer-wait-file $W/peer_rc --peer-wait-s 300 \
  --json $W/e2e_1.3b_480p.json > $W/e2e_1.3b.log 2>&1
python benchmarks/profile_forward.py wan2.1-t2v-1.3b --variants sagesla+fused,sagesla+int8+fused \
  --json $W/profile_1.3b.json > $W/profile.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 480p --rows baseline,+graph,turbo-bf16 --reps 2 --base-reps 2 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_480p.json > $W/e2e_14b_480p.log 2>&1
python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --rows baseline,+graph,turbo-bf16 --reps 2 --base-reps 2 \
  --loops final --loop-reps 1 --stage-reps 1 --vae-chunk-latents 20 --json $W/e2e_14b_720p.json > $W/e2e_14b_720p.log 2>&1
echo done > $W/DONE
