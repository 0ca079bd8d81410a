"""The pipeline's decode stage split (1.3B-480p: 81 frames, latent [1, 16, 21, 60, 104]; a random bf16 Wan2.1
VAE, channels-last with fused norms, 20 latent frames a chunk, as TurboPipeline runs it on an H200): the
VAE decode, the conversion to uint8 [T, H, W, 3] and the copy to the host, each timed with a
synchronisation, against a conversion done in place and a copy into page-locked memory. Medians of 5.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/decode_split.py OUT.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch
from e2e_stages import build_vae

from turbodiffusion.models.wan.vae import WAN21_VAE


def timed(fn, *args):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(*args)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def convert(video):
    """The pipeline's conversion."""
    return ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0)


def convert_inplace(video):
    """The same arithmetic in place on one fp32 copy, made contiguous on the GPU."""
    f = video[0].float().clamp_(-1, 1).add_(1).mul_(127.5).round_()
    return f.to(torch.uint8).permute(1, 2, 3, 0).contiguous()


def to_pinned(frames):
    buf = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
    buf.copy_(frames, non_blocking=True)
    return buf


def main(out_path: str) -> None:
    device = torch.device("cuda")
    vae = build_vae(WAN21_VAE, device)
    vae.use_channels_last(True).enable_fused_ops(True)
    latent = torch.randn(1, 16, 21, 60, 104, device=device)
    parts: dict[str, list[float]] = {k: [] for k in ("decode", "convert", "to_host", "convert_inplace",
                                                     "to_host_pinned")}  # fmt: skip
    same = []
    with torch.inference_mode():
        for rep in range(6):
            t_dec, video = timed(lambda z: vae.decode(z, chunk_latents=20), latent)
            t_conv, frames = timed(convert, video)
            t_host, host = timed(torch.Tensor.cpu, frames)
            t_conv2, frames2 = timed(convert_inplace, video)
            t_host2, host2 = timed(to_pinned, frames2)
            same.append(bool(torch.equal(host, host2)))
            if rep:  # the first is a warm-up
                for k, v in zip(parts, (t_dec, t_conv, t_host, t_conv2, t_host2), strict=True):
                    parts[k].append(v)
            del video, frames, frames2, host, host2
    result = {k: statistics.median(v) for k, v in parts.items()}
    result["same_frames"] = all(same)
    result["all"] = parts
    print(json.dumps({k: v for k, v in result.items() if k != "all"}), flush=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
