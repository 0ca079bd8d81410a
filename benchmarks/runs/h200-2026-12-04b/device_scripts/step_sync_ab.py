"""The sampler's step clock on events (no wait for the GPU inside the loop) against the per-step
torch.cuda.synchronize it replaced, alternated in one process: the 1.3B-480p Turbo FP8 DiT's 4-step loop
through denoise.sample_latent (wall clock around it, medians of 6), then the whole pipeline (pipeline_ab.py's
build; medians of 3). "sync" patches StepClock.mark to synchronise first, as the loop did before.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/step_sync_ab.py OUT.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time

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
from turbodiffusion.pipelines.residency import Residency
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_

PRESET, QUANT = "wan2.1-t2v-1.3b", "fp8-row"
SHAPE = (1, 16, 21, 60, 104)
REAL_MARK = denoise.StepClock.mark


def synced_mark(self) -> None:
    torch.cuda.synchronize()
    REAL_MARK(self)


def use(variant: str) -> None:
    denoise.StepClock.mark = synced_mark if variant == "sync" else REAL_MARK


def main(out_path: str) -> None:
    device = torch.device("cuda")
    attention = AttentionConfig(backend="sagesla", sla_topk=0.1)
    dit, vae, text = build_random(
        dit_preset(PRESET), WAN21_VAE, UMT5_XXL, attention, dtype=torch.bfloat16, device="cuda"
    )
    quantize_(dit, quant_config(QUANT))
    dit.enable_fused_ops()
    ctx = (torch.randn(1, 40, dit.config.text_dim, device=device) * 0.1).to(torch.bfloat16)
    plan = denoise.SamplingPlan("rcm", 4, 0, 80.0, False, 5.0, 5.0)
    residency = Residency(device)
    residency.add("dit", dit, group="dit")

    def loop(variant: str) -> dict:
        use(variant)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        _, steps = denoise.sample_latent(residency, ("dit",), None, SHAPE, ctx, None, plan,
                                         input_dtype=torch.bfloat16)  # fmt: skip
        torch.cuda.synchronize()
        return {"variant": variant, "wall_s": time.perf_counter() - t0, "steps_s": sum(steps)}

    result: dict = {}
    with torch.inference_mode():
        loops = [loop(v) for v in ("events", "sync")]  # warm-up
        loops = []
        for r in range(6):
            loops += [loop(v) for v in (("events", "sync") if r % 2 == 0 else ("sync", "events"))]
    result["loop_wall_s"] = {
        v: statistics.median(c["wall_s"] for c in loops if c["variant"] == v) for v in ("events", "sync")
    }
    result["loop_steps_s"] = {
        v: statistics.median(c["steps_s"] for c in loops if c["variant"] == v) for v in ("events", "sync")
    }
    result["loops"] = loops
    print(json.dumps({k: result[k] for k in ("loop_wall_s", "loop_steps_s")}), flush=True)

    components = Components(
        preset=get_preset(PRESET), folder=None, dits=(dit,), vae=vae, text_encoder=text,
        tokenizer=ByteTokenizer(UMT5_XXL.text_len), attention=attention, quant=QUANT, dtype=torch.bfloat16,
    )  # fmt: skip
    pipe = TurboPipeline(components, device, fused=True)

    def call(variant: str) -> dict:
        use(variant)
        t0 = time.perf_counter()
        out = pipe("a red circle moving right", num_frames=81, height=480, width=832, steps=4, seed=1,
                   progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
        return {"variant": variant, "wall_s": wall, "steps_s": out.timings.sampling, "total_s": out.timings.total,
                "step_s": list(out.timings.steps), "frames_sum": float(out.frames.float().sum())}  # fmt: skip

    calls = [call(v) for v in ("events", "sync")]  # warm-up
    calls = []
    for r in range(3):
        calls += [call(v) for v in (("events", "sync") if r % 2 == 0 else ("sync", "events"))]
    use("events")
    for key in ("wall_s", "steps_s", "total_s"):
        result[f"pipeline_{key}"] = {
            v: statistics.median(c[key] for c in calls if c["variant"] == v) for v in ("events", "sync")
        }
    result["pipeline_calls"] = calls
    result["same_frames"] = len({c["frames_sum"] for c in calls}) == 1
    print(
        json.dumps({k: v for k, v in result.items() if k.startswith("pipeline_") and k != "pipeline_calls"})
    )
    print(json.dumps({"same_frames": result["same_frames"]}), flush=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
