"""VAE decode (81 frames, the pipeline's layout: channels-last with fused norms, 20 latent frames a chunk)
with cuDNN's algorithm search off (PyTorch's default: cuDNN's heuristics pick each convolution's algorithm)
and on (``torch.backends.cudnn.flags(benchmark=True)``, scoped to the decode: every new convolution shape is
timed once, the first call pays for it). First call, then the median of ``REPS`` calls, per setting and
resolution; the two outputs are compared (rel L2: another algorithm sums in another order).

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04/device_scripts/vae_cudnn.py OUT.json
"""

import json
import statistics
import sys

import torch
from e2e_stages import build_vae, first_call, time_calls

from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.testing.compare import rel_l2

REPS = 3


def main(out_path):
    device = torch.device("cuda")
    vae = build_vae(WAN21_VAE, device)
    vae.use_channels_last(True).enable_fused_ops(True)
    rows = []
    for res, (h, w) in {"480p": (60, 104), "720p": (90, 160)}.items():
        g = torch.Generator(device).manual_seed(0)
        latent = torch.randn(1, 16, 21, h, w, generator=g, device=device, dtype=torch.bfloat16)
        outs = {}
        row = dict(resolution=res)
        for setting in ("heuristics", "search", "heuristics_again", "search_again"):
            search = setting.startswith("search")
            with (
                torch.no_grad(),
                torch.backends.cudnn.flags(enabled=True, benchmark=search, deterministic=False),
            ):
                first, out = first_call(lambda latent=latent: vae.decode(latent, chunk_latents=20), device)
                outs.setdefault(setting.split("_")[0], out.float())
                del out
                ms = time_calls(lambda latent=latent: vae.decode(latent, chunk_latents=20), REPS, device)
            row[setting] = dict(first_call_s=first, s=statistics.median(ms) / 1e3)
            print(res, setting, json.dumps(row[setting]), flush=True)
        row["rel_l2_search_vs_heuristics"] = rel_l2(outs["search"], outs["heuristics"])
        row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 1024**3
        rows.append(row)
        print(json.dumps(row), flush=True)
        del outs
        torch.cuda.empty_cache()
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
