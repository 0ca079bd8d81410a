"""What ``generate`` runs (benchmarks/pipeline_random.py's pipeline: 1.3B, 832x480, 81 frames, 4 rCM steps,
random weights, fused kernels, SageSLA top-k 0.1, FP8 row-wise W8A8) three ways, alternated on one pipeline:
"plain" hides WanDiT from pipelines.denoise, so the sampler passes the context tensor itself and runs every
step eagerly (as before this session); "cached" with the sampler's TextContextCache, eagerly; "graphed" with
the cache and the steps after the first replayed from a CUDA graph: the pipeline's ``cuda_graphs`` option of
call 2's working tree (cuda_graph_at_call2.py), removed on this result, so on the committed tree this
variant is skipped. Call 1 ran an earlier form of this script with the first two variants only.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/pipeline_ab.py OUT.json
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
from turbodiffusion.pipelines import denoise
from turbodiffusion.pipelines.builtin import build_random
from turbodiffusion.pipelines.components import Components, quant_config
from turbodiffusion.pipelines.pipeline import TurboPipeline
from turbodiffusion.pipelines.presets import get_preset
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_

PRESET, QUANT, ROUNDS = "wan2.1-t2v-1.3b", "fp8-row", 3
VARIANTS = ("plain", "cached", "graphed")


class _NotWanDiT:  # nothing is an instance of it: denoise then passes the raw context
    pass


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
    real = denoise.WanDiT

    def call(variant: str, seed: int) -> dict:
        denoise.WanDiT = _NotWanDiT if variant == "plain" else real
        pipe.cuda_graphs = variant == "graphed"
        torch.cuda.reset_peak_memory_stats()
        try:
            out = pipe("a red circle moving right", num_frames=81, height=480, width=832, steps=4, seed=seed,
                       progress=False)  # fmt: skip
        finally:
            denoise.WanDiT = real
        t = out.timings
        return {"variant": variant, "seed": seed, "text_s": t.text_encoding, "steps_s": t.sampling,
                "step_s": list(t.steps), "decode_s": t.decode, "total_s": t.total,
                "frames_sum": float(out.frames.float().sum()),
                "peak_gib": torch.cuda.max_memory_allocated() / 2**30}  # fmt: skip

    variants = VARIANTS if hasattr(pipe, "cuda_graphs") else VARIANTS[:2]
    warm = [call(v, 0) for v in variants]
    calls = []
    for r in range(ROUNDS):
        order = variants if r % 2 == 0 else variants[::-1]
        calls += [call(v, 1) for v in order]
    for c in warm + calls:
        print(json.dumps(c), flush=True)
    summary = {}
    for variant in variants:
        mine = [c for c in calls if c["variant"] == variant]
        summary[variant] = {
            k: statistics.median(c[k] for c in mine)
            for k in ("text_s", "steps_s", "decode_s", "total_s", "peak_gib")
        }
        summary[variant]["step_s"] = [statistics.median(c["step_s"][i] for c in mine) for i in range(4)]
    for variant in variants[1:]:
        summary[f"{variant}_steps_speedup"] = summary["plain"]["steps_s"] / summary[variant]["steps_s"]
    summary["frames_sums"] = sorted({c["frames_sum"] for c in calls})
    print(json.dumps(summary), flush=True)
    with open(out_path, "w") as f:
        json.dump({"summary": summary, "warm": warm, "calls": calls}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
