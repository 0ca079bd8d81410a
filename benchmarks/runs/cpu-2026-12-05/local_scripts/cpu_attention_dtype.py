"""The fused CPU attention on the default model's sparse problem, fp32 against bf16, and 4-D against 5-D.

python benchmarks/runs/cpu-2026-12-05/local_scripts/cpu_attention_dtype.py
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F


def ms(fn, reps: int = 10) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps * 1e3


def main() -> None:
    g = torch.Generator().manual_seed(0)
    # 4 heads x 18 query blocks of 128, each over 18 gathered key blocks of 64 (top-k 0.5 of 36).
    q = torch.randn(1, 4, 18, 128, 64, generator=g)
    k, v = (torch.randn(1, 4, 18, 1152, 64, generator=g) for _ in range(2))
    q4, k4, v4 = (t.view(4, 18, t.shape[-2], 64) for t in (q, k, v))
    with torch.no_grad():
        print(f"5-D fp32: {ms(lambda: F.scaled_dot_product_attention(q, k, v)):.1f} ms")
        print(f"4-D fp32: {ms(lambda: F.scaled_dot_product_attention(q4, k4, v4)):.1f} ms")
        qb, kb, vb = (t.bfloat16() for t in (q4, k4, v4))
        print(f"4-D bf16: {ms(lambda: F.scaled_dot_product_attention(qb, kb, vb)):.1f} ms")


if __name__ == "__main__":
    main()
