"""The pipeline's decode stage with frames_to_host (frames laid out on the GPU, copied into page-locked
memory) against the conversion it replaced (the permuted view copied to pageable memory), alternated on one
1.3B-480p pipeline (pipeline_ab.py's build). Medians of 3 calls each.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/pipeline_decode_ab.py OUT.json
"""

from __future__ import annotations

import json
import statistics
import sys

import torch

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.umt5 import UMT5_XXL
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines import pipeline as pipeline_module
from turbodiffusion.pipelines.builtin import build_random
from turbodiffusion.pipelines.components import Components, quant_config
from turbodiffusion.pipelines.pipeline import TurboPipeline
from turbodiffusion.pipelines.presets import get_preset
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_

PRESET, QUANT = "wan2.1-t2v-1.3b", "fp8-row"
NEW = pipeline_module.frames_to_host


def old_frames(video: torch.Tensor) -> torch.Tensor:
    frames = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return frames.permute(1, 2, 3, 0).cpu()


def main(out_path: str) -> None:
    attention = AttentionConfig(backend="sagesla", sla_topk=0.1)
    dit, vae, text = build_random(
        dit_preset(PRESET), WAN21_VAE, UMT5_XXL, attention, dtype=torch.bfloat16, device="cuda"
    )
    quantize_(dit, quant_config(QUANT))
    components = Components(
        preset=get_preset(PRESET), folder=None, dits=(dit,), vae=vae, text_encoder=text,
        tokenizer=ByteTokenizer(UMT5_XXL.text_len), attention=attention, quant=QUANT, dtype=torch.bfloat16,
    )  # fmt: skip
    pipe = TurboPipeline(components, torch.device("cuda"), fused=True)

    def call(variant: str) -> dict:
        pipeline_module.frames_to_host = NEW if variant == "new" else old_frames
        try:
            out = pipe("a red circle moving right", num_frames=81, height=480, width=832, steps=4, seed=1,
                       progress=False)  # fmt: skip
        finally:
            pipeline_module.frames_to_host = NEW
        t = out.timings
        return {"variant": variant, "decode_s": t.decode, "total_s": t.total, "steps_s": t.sampling,
                "frames_sum": float(out.frames.float().sum()), "pinned": out.frames.is_pinned()}  # fmt: skip

    calls = [call(v) for v in ("new", "old")]  # warm-up
    calls = []
    for r in range(3):
        calls += [call(v) for v in (("new", "old") if r % 2 == 0 else ("old", "new"))]
    summary = {
        v: {k: statistics.median(c[k] for c in calls if c["variant"] == v) for k in ("decode_s", "total_s")}
        for v in ("new", "old")
    }
    summary["same_frames"] = len({c["frames_sum"] for c in calls}) == 1
    print(json.dumps(summary), flush=True)
    with open(out_path, "w") as f:
        json.dump({"summary": summary, "calls": calls}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
