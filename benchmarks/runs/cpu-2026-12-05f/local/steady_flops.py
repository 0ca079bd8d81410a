"""The steady tail's work at Wan2.1's real sizes, counted on a meta-device VAE (no values, nothing run):
each encoder stage's first steady output frame for I2V's [image, 80 zeros], and the encode's TFLOP with and
without the steady tail at 480p and 720p, official chunking (1) and one chunk after the first (20).

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05f/local/steady_flops.py
"""

from __future__ import annotations

import torch
from e2e_stages import encode_tflop

from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE
from turbodiffusion.models.wan.vae_steady import SteadyTail

with torch.device("meta"):
    vae = WanVAE(WAN21_VAE)
stages = vae.encoder.stages()
tail = SteadyTail(stages, vae.encoder.run_stage, 1)
for i, (stage, steady) in enumerate(zip(stages, tail.steady)):
    mode = getattr(stage, "mode", "")
    print(f"stage {i:2d} {type(stage).__name__:14s} {mode:12s} steady from output frame {steady}")
for name, (h, w) in {"480p": (480, 832), "720p": (720, 1280)}.items():
    for chunk in (1, 20):
        every = encode_tflop(WAN21_VAE, 81, h, w, chunk, steady=False)
        steady = encode_tflop(WAN21_VAE, 81, h, w, chunk, steady=True)
        print(
            f"{name} chunk {chunk:2d}: every frame {every:6.1f} TFLOP, steady tail {steady:6.1f} ({every / steady:.2f}x)"
        )
