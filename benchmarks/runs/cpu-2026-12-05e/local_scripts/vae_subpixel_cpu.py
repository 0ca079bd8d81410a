"""CPU A/B of the VAE decoder's sub-pixel upsampling (WanVAE.use_subpixel_upsampling) on this machine.

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05e/local_scripts/vae_subpixel_cpu.py

Two VAEs with random bf16 weights, channels-last as the pipeline runs them: the default model's (dim 16;
33 frames of 256x256, the main command's clip) and Wan2.1's (dim 96; 9 frames of 128x224, small enough for
2 cores). Plain and sub-pixel decodes alternate, ``--rounds`` times each; the script prints every time and
each form's rel L2 to the same weights decoded in fp32 (plain form). Also the three upsampling convolutions
alone at Wan2.1's channel widths.
"""

from __future__ import annotations

import argparse
import time

import torch
from e2e_stages import build_vae

from turbodiffusion.default_model.config import DEFAULT_VAE
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.models.wan.vae_upsample import upsample2x_conv3x3, upsample2x_conv3x3_reference
from turbodiffusion.testing.compare import rel_l2


def median_ms(fn, args: tuple, reps: int) -> float:
    fn(*args)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cpu = torch.device("cpu")
    g = torch.Generator().manual_seed(0)
    cases = {
        "default model, 33x256x256": (DEFAULT_VAE, torch.randn(1, 16, 9, 32, 32, generator=g)),
        "Wan2.1, 9x128x224": (WAN21_VAE, torch.randn(1, 16, 3, 16, 28, generator=g)),
    }
    with torch.no_grad():
        for name, (cfg, latent) in cases.items():
            vae = build_vae(cfg, cpu).use_channels_last()
            truth = build_vae(cfg, cpu).float().decode(latent).float()
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):
                for subpixel in (False, True):
                    vae.use_subpixel_upsampling(subpixel)
                    start = time.perf_counter()
                    vae.decode(latent)
                    times[subpixel].append(time.perf_counter() - start)
            for subpixel in (False, True):
                vae.use_subpixel_upsampling(subpixel)
                err = rel_l2(vae.decode(latent).float(), truth)
                label = "sub-pixel" if subpixel else "plain    "
                print(
                    f"{name}: {label} "
                    + " ".join(f"{t:.3f}" for t in times[subpixel])
                    + f" s, rel L2 to fp32 {err:.4e}"
                )
        print("upsampling convolutions alone (bf16, channels-last, median of 5):")
        for n, c_in, c_out, h, w in [(4, 192, 96, 60, 104), (4, 384, 192, 30, 52)]:
            x = (
                torch.randn(n, c_in, h, w, generator=g)
                .to(torch.bfloat16)
                .contiguous(memory_format=torch.channels_last)
            )
            weight = (torch.randn(c_out, c_in, 3, 3, generator=g) / (9 * c_in) ** 0.5).to(torch.bfloat16)
            weight = weight.contiguous(memory_format=torch.channels_last)
            bias = torch.randn(c_out, generator=g).to(torch.bfloat16)
            plain = median_ms(upsample2x_conv3x3_reference, (x, weight, bias), 5)
            sub = median_ms(upsample2x_conv3x3, (x, weight, bias), 5)
            print(
                f"  [{n}, {c_in}, {h}, {w}] -> {c_out}: plain {plain:.1f} ms, sub-pixel {sub:.1f} ms ({plain / sub:.2f}x)"
            )


if __name__ == "__main__":
    main()
