"""Device call 2 of 2026-12-03b: the top-k kernel against torch.topk + sort at Wan's shapes, launch settings,
exactness against the reference rule, and torch's own CUDA tie-break on tied scores."""

import json
import sys

import torch
import triton
from graph_timing import time_ms

from turbodiffusion.attention.sla.block_map import topk_lut_reference
from turbodiffusion.attention.sla.topk_kernel import _topk_lut_kernel, topk_lut_triton


def launch(scores, k, block_r, warps):
    nk = scores.shape[-1]
    flat = scores.reshape(-1, nk)
    lut = torch.empty(flat.shape[0], k, dtype=torch.int64, device=scores.device)
    _topk_lut_kernel[(triton.cdiv(flat.shape[0], block_r),)](
        flat, lut, flat.shape[0], nk, k, flat.stride(0),
        BLOCK_R=block_r, BLOCK_N=triton.next_power_of_2(nk), WIDE=False, num_warps=warps,
    )  # fmt: skip
    return lut


def torch_lut(s, k):
    return torch.topk(s, k, dim=-1, sorted=False).indices.sort(dim=-1).values


out = {}
for name, h, mq, nk in (("1.3B-480p", 12, 512, 256), ("14B-480p", 40, 512, 256), ("14B-720p", 40, 1182, 591)):
    g = torch.Generator("cuda").manual_seed(1)
    scores = torch.randn(1, h, mq, nk, device="cuda", generator=g).to(torch.bfloat16)
    k = max(1, int(0.1 * nk))
    row = {"rows": h * mq, "nk": nk, "k": k}
    row["torch_topk_sort_ms"] = time_ms(lambda s=scores, k=k: torch_lut(s, k))
    row["kernel_default_ms"] = time_ms(lambda s=scores, k=k: topk_lut_triton(s, k))
    ref = topk_lut_reference(scores, k)
    row["kernel_equals_reference"] = bool(torch.equal(topk_lut_triton(scores, k), ref))
    row["torch_set_equals_reference"] = bool(torch.equal(torch_lut(scores, k), ref))
    tied = torch.randint(-2, 3, scores.shape, device="cuda", generator=g).to(torch.bfloat16)
    row["tied_kernel_equals_reference"] = bool(
        torch.equal(topk_lut_triton(tied, k), topk_lut_reference(tied, k))
    )
    row["tied_torch_equals_reference_rows"] = float(
        (torch_lut(tied, k) == topk_lut_reference(tied, k)).all(-1).float().mean()
    )
    sweep = {}
    bn = triton.next_power_of_2(nk)
    for lanes in (512, 1024, 2048, 4096, 8192):
        br = max(1, lanes // bn)
        for warps in (1, 2, 4, 8):
            try:
                ok = torch.equal(launch(scores, k, br, warps), ref)
                sweep[f"r{br}_w{warps}"] = (
                    time_ms(lambda s=scores, k=k, br=br, w=warps: launch(s, k, br, w)),
                    ok,
                )
            except Exception as err:  # an out-of-resources launch is a result too
                sweep[f"r{br}_w{warps}"] = str(err)[:100]
    row["sweep"] = sweep
    out[name] = row
    print(name, {k2: v for k2, v in row.items() if k2 != "sweep"}, flush=True)
    print(" ", sorted((v[0], k2) for k2, v in sweep.items() if isinstance(v, tuple))[:5], flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
