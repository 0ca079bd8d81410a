"""One eager DiT forward at a preset's real token count but few blocks, bracketed by cudaProfilerStart/Stop so
that `ncu --profile-from-start off` sees only that forward (warm-up and autotuning happen before it).

    ncu --clock-control none --profile-from-start off --set full -o OUT python ncu_forward.py PRESET RES LAYERS
"""

import dataclasses
import sys

import torch
from e2e_stages import build_dit, dit_shape

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import dit_preset


def main(preset: str, resolution: str, layers: int) -> None:
    device = torch.device("cuda")
    shape = dit_shape(dit_preset(preset), resolution, 81, None)
    cfg = dataclasses.replace(shape.cfg, num_layers=layers)
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    context = torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device).to(torch.bfloat16)
    model = build_dit(cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row-fast")
    model.enable_fused_ops(True)
    with torch.no_grad():
        for _ in range(2):
            model(x, t, context, None)
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        model(x, t, context, None)
        torch.cuda.synchronize()
        torch.cuda.profiler.stop()
    print("forward profiled", preset, resolution, layers, shape.tokens, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
