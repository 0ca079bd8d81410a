"""The VAE head's few-output 3x3x3 convolution on the CPU, three ways (median ms of 5, 2-core machine):
F.conv3d as the VAE runs it, its outputs padded to 16, and the taps as one GEMM [C_in -> 27 x 3] followed by
a sum of 27 shifted slices.

    python benchmarks/runs/cpu-2026-12-05e/local_scripts/head_conv_cpu.py
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F


def median_ms(fn, reps: int = 5) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main() -> None:
    g = torch.Generator().manual_seed(0)
    for c, t, h, w in [(16, 35, 256, 256), (96, 6, 120, 208)]:
        for dtype in (torch.bfloat16, torch.float32):
            cl = torch.channels_last_3d
            x = torch.randn(1, c, t, h, w, generator=g).to(dtype).contiguous(memory_format=cl)
            weight = (torch.randn(3, c, 3, 3, 3, generator=g) / (27 * c) ** 0.5).to(dtype)
            bias = torch.randn(3, generator=g).to(dtype)
            padded_x = F.pad(x, (1, 1, 1, 1, 0, 0))
            w16 = torch.zeros(16, c, 3, 3, 3, dtype=dtype)
            w16[:3] = weight
            w16 = w16.contiguous(memory_format=cl)
            taps = weight.permute(1, 2, 3, 4, 0).reshape(c, 81)

            weight = weight.contiguous(memory_format=cl)

            def conv(padded_x=padded_x, weight=weight, bias=bias):
                return F.conv3d(padded_x, weight, bias)

            def conv16(padded_x=padded_x, w16=w16):
                return F.conv3d(padded_x, w16)[:, :3]

            def gemm(padded_x=padded_x, taps=taps, t=t, h=h, w=w, bias=bias):
                z = (padded_x.permute(0, 2, 3, 4, 1) @ taps).unflatten(-1, (3, 3, 3, 3))
                out = torch.zeros(1, t - 2, h, w, 3)
                for kt in range(3):
                    for kh in range(3):
                        for kw in range(3):
                            out += z[:, kt : kt + t - 2, kh : kh + h, kw : kw + w, kt, kh, kw]
                return (out + bias.float()).to(padded_x.dtype).permute(0, 4, 1, 2, 3)

            with torch.no_grad():
                ref = conv().double()
                err = ((gemm().double() - ref).norm() / ref.norm()).item()
                print(
                    f"C_in {c}, {t}x{h}x{w}, {dtype}: conv3d {median_ms(conv):.1f} ms, outputs padded to 16 "
                    f"{median_ms(conv16):.1f} ms, GEMM + 27 shifted sums {median_ms(gemm):.1f} ms (rel L2 {err:.1e})"
                )


if __name__ == "__main__":
    main()
