#!/bin/bash
# Device call 7 of 2026-12-04b: GPU tests after the sync counter's fix; the counter's probe as e2e.py runs it.
export PYTHONPATH=.:benchmarks
timeout 150 python -m pytest -q -m gpu tests/pipelines/test_denoise.py tests/pipelines/test_pipeline.py \
  tests/models/test_text_cache.py -p no:cacheprovider > $OUT/call7_gpu_tests.log 2>&1
tail -n 4 $OUT/call7_gpu_tests.log
python -c "
import torch
from turbodiffusion.testing.host_syncs import count_host_syncs
d = torch.device('cuda')
with count_host_syncs(d) as first:
    torch.ones(1, device=d).item()
with count_host_syncs(d) as none:
    torch.ones(1, device=d) + 1
print('probe: first .item()', first.count, '| no sync', none.count)
"
