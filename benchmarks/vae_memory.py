"""VAE memory by chunking, counted without a GPU: the Wan2.1 VAE's encode and decode peaks on the meta device.

    PYTHONPATH=. python benchmarks/vae_memory.py --resolution 480p --chunk-latents 1 2 4 20 --json /tmp/vae_memory.json

The VAE is built on the meta device (channels-last, as TurboPipeline runs it), so no weights exist and no
op computes; ``turbodiffusion.testing.live_bytes.PeakLiveBytes`` counts the bytes of the tensors its ops keep
alive. Weights, the input, allocator rounding and cuDNN's workspaces are not in the count (a GPU's peak
adds them), and neither are the fused norms' savings (they run only on CUDA). Each row: the peak of one
encode (a clip of ``--frames`` frames, float32 as ``WanVAE.encode`` takes it; every frame through every
stage, as a clip without repeats runs), one I2V encode ("encode-i2v": the frames after the first are zeros,
each encoder stage's repeated frame computed once, ``WanVAE.use_steady_tail``) or decode (its latent) at
``chunk_latents`` latent frames a call; ``bytes_per_pixel`` is that over the output pixels of one frame, and
``per_latent_bytes_per_pixel`` the increase a further latent frame a chunk costs against the first setting.
These are what ``pipelines.pipeline.vae_chunk_latents``'s rule bounds.
"""

from __future__ import annotations

import argparse

import torch
from common import add_video_arguments, check_video_arguments, environment, print_table, write_json

from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE
from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.testing.live_bytes import PeakLiveBytes


def peak_bytes(vae: WanVAE, op: str, frames: int, height: int, width: int, chunk_latents: int) -> int:
    """Peak live bytes of one ``op`` ("encode", "encode-i2v" or "decode") of a meta-device ``vae`` at
    ``chunk_latents``."""
    cfg = vae.config
    with torch.device("meta"):
        if op != "decode":
            x = torch.empty(1, 3, frames, height, width)
        else:
            latents = 1 + (frames - 1) // cfg.temporal_factor
            sf = cfg.spatial_factor
            x = torch.empty(1, cfg.z_dim, latents, height // sf, width // sf, dtype=torch.bfloat16)
    with torch.no_grad(), PeakLiveBytes() as count:
        if op == "decode":
            vae.decode(x, chunk_latents=chunk_latents)
        else:
            vae.encode(x, chunk_latents=chunk_latents, steady_from=1 if op == "encode-i2v" else None)
    return count.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser, preset=False)
    parser.add_argument("--chunk-latents", type=int, nargs="+", default=[1, 2, 4, 20])
    parser.add_argument("--json", default="results/vae_memory.json")
    args = parser.parse_args()
    check_video_arguments(parser, args)
    if min(args.chunk_latents) < 1:
        parser.error("--chunk-latents must be positive")
    width, height = RESOLUTIONS[args.resolution]
    with torch.device("meta"):
        vae = WanVAE(WAN21_VAE).to(torch.bfloat16).use_channels_last()
    rows = []
    for op in ("encode", "encode-i2v", "decode"):
        first = None
        for chunk in args.chunk_latents:
            peak = peak_bytes(vae, op, args.frames, height, width, chunk)
            row = {"op": op, "chunk_latents": chunk, "peak_gib": peak / 2**30,
                   "bytes_per_pixel": peak / (height * width)}  # fmt: skip
            if first is not None and chunk != first["chunk_latents"]:
                extra = (peak - first["peak"]) / (chunk - first["chunk_latents"])
                row["per_latent_bytes_per_pixel"] = extra / (height * width)
            first = first or {"peak": peak, "chunk_latents": chunk}
            rows.append(row)
    print_table(rows, ["op", "chunk_latents", "peak_gib", "bytes_per_pixel", "per_latent_bytes_per_pixel"])
    write_json(args.json, {"env": environment(), "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
