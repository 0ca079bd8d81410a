"""Device call 1 of 2026-12-03b: what SLA's block selection (torch.topk + sort) costs at Wan's shapes."""

import json
import sys

import torch
from graph_timing import time_ms

out = {}
for name, h, mq, nk in (("1.3B-480p", 12, 512, 256), ("14B-480p", 40, 512, 256), ("14B-720p", 40, 1182, 591)):
    scores = torch.randn(1, h, mq, nk, device="cuda").to(torch.bfloat16)
    k = max(1, int(0.1 * nk))
    topk = time_ms(lambda s=scores, k=k: torch.topk(s, k, dim=-1, sorted=False))
    both = time_ms(lambda s=scores, k=k: torch.topk(s, k, dim=-1, sorted=False).indices.sort(dim=-1).values)
    out[name] = {"rows": h * mq, "nk": nk, "k": k, "topk_ms": topk, "topk_sort_ms": both}
    print(name, out[name], flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
