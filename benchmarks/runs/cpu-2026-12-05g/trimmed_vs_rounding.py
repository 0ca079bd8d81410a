"""Wan2.1 1.3B's DiT (random weights, all 30 layers) on a small latent on the CPU: a 24-token prompt's
forward with the trimmed context (the padding's weighted stand-ins) and with the full 512 rows, beside two
controls that move the full-context forward by one bf16 step (the prompt's rows; the latent x).

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05g/trimmed_vs_rounding.py --quant none --dtype fp32

The H100 saw trimmed forwards 3.0-3.3e-2 (rel L2) from the full ones in the FP8 configuration; this says
whether that is the stand-ins or the model's sensitivity to rounding. SLA (reference) top-k 0.5, 2 x 16 x 16
latent (128 tokens).
"""

import argparse

import torch
from e2e_stages import build_dit

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.text_cache import TextContextCache
from turbodiffusion.pipelines.text import trimmed_rows
from turbodiffusion.testing.compare import rel_l2


def one_step(t: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """``t`` with every entry times 1 +- 2^-7 (random sign): one bf16 step, not rounded away."""
    signs = torch.randint(0, 2, t.shape, generator=g) * 2 - 1
    return (t.float() * (1 + 2.0**-7 * signs)).to(t.dtype)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quant", choices=["none", "fp8row"], default="none")
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    args = parser.parse_args()
    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    if args.quant != "none" and dtype == torch.float32:
        parser.error("--quant fp8row runs bf16 activations: use --dtype bf16")
    cfg = dit_preset("wan2.1-t2v-1.3b")
    model = build_dit(cfg, AttentionConfig(backend="sla", sla_topk=0.5), torch.device("cpu"),
                      None if args.quant == "none" else args.quant).to(dtype)  # fmt: skip
    model.enable_fused_ops(True)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, cfg.in_dim, 2, 16, 16, generator=g).to(dtype)
    t = torch.full((1,), 757.0)
    n = 24
    full = torch.zeros(1, cfg.text_len, cfg.text_dim)
    full[:, :n] = torch.randn(1, n, cfg.text_dim, generator=g)
    full = full.to(dtype)
    mask = torch.zeros(1, cfg.text_len, dtype=torch.long)
    mask[:, :n] = 1
    trimmed = full[:, : trimmed_rows(mask)].contiguous()
    moved = full.clone()
    moved[:, :n] = one_step(full[:, :n], g)
    with torch.no_grad():
        reference = model(x, t, TextContextCache(full)).float()
        errors = {
            "trimmed": rel_l2(model(x, t, TextContextCache(trimmed)).float(), reference),
            "prompt_rows_one_step": rel_l2(model(x, t, TextContextCache(moved)).float(), reference),
            "x_one_step": rel_l2(model(one_step(x, g), t, TextContextCache(full)).float(), reference),
        }
    print(f"quant {args.quant}, {args.dtype}: " + ", ".join(f"{k} {v:.3e}" for k, v in errors.items()))


if __name__ == "__main__":
    main()
