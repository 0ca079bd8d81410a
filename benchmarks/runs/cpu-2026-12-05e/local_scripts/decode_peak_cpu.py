"""The Wan2.1 VAE decode's peak of live activation bytes per output pixel, counted on the CPU with
``PeakLiveBytes`` (bf16, channels-last, fused norms taking the context-buffer route; the fused norm stood in by
an allocation-free copy, since its CPU reference makes fp32 temporaries the Triton kernel does not), and
where the peak is reached. 9 latent frames of 32 x 48 pixels, chunks of 8 and 2.

    python benchmarks/runs/cpu-2026-12-05e/local_scripts/decode_peak_cpu.py
"""

from __future__ import annotations

import traceback

import torch

from turbodiffusion.models.wan import vae_blocks
from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE
from turbodiffusion.testing.live_bytes import PeakLiveBytes


class PeakWithPlace(PeakLiveBytes):
    """PeakLiveBytes that also keeps the source lines (this package's) where the peak was last raised."""

    where: list[str] = []

    def _count(self, storage: torch.UntypedStorage) -> None:
        before = self.peak
        super()._count(storage)
        if self.peak > before:
            self.where = [
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                for f in traceback.extract_stack()
                if "/turbodiffusion/" in f.filename and "live_bytes" not in f.filename
            ]


def stand_in_norm(x, gamma, silu=False, out=None):
    return torch.empty_like(x) if out is None else out.copy_(x)


def main() -> None:
    vae_blocks.channel_rms_norm = stand_in_norm
    height, width = 32, 48
    vae = (
        WanVAE(WAN21_VAE).to(torch.bfloat16).use_channels_last().use_subpixel_upsampling().enable_fused_ops()
    )
    latent = torch.randn(1, 16, 9, height // 8, width // 8, dtype=torch.bfloat16)
    for chunk in (8, 2):
        with torch.no_grad(), PeakWithPlace() as count:
            vae.decode(latent, chunk_latents=chunk)
        print(
            f"chunk {chunk}: peak {count.peak / (height * width) / 1e3:.1f} KB a pixel, at {' > '.join(count.where)}"
        )


if __name__ == "__main__":
    main()
