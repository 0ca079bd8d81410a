"""Why a step of ``generate`` (pipeline_ab.py: ~0.17 s at 1.3B-480p) is slower than the same eager forward
in a tight loop (host_profile.py: 0.153 s). One process, the 1.3B-480p Turbo FP8 DiT:

A. rcm_sample with the DiT called eagerly (a filled TextContextCache), no per-step synchronisation;
B. denoise.sample_latent as the pipeline runs it (its on_step synchronises after every step);
C. B with Python's garbage collector off;
then the whole pipeline (umT5-XXL, VAE; pipeline_ab.py's) called normally, with gc off during the call, and
after torch.cuda.empty_cache(). Medians of the loops' / steps' seconds.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/pipeline_gap.py OUT.json
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time

import torch

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.umt5 import UMT5_XXL
from turbodiffusion.models.wan import TextContextCache
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines.builtin import build_random
from turbodiffusion.pipelines.components import Components, quant_config
from turbodiffusion.pipelines.denoise import SamplingPlan, sample_latent
from turbodiffusion.pipelines.pipeline import TurboPipeline
from turbodiffusion.pipelines.presets import get_preset
from turbodiffusion.pipelines.residency import Residency
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_
from turbodiffusion.sampling.rcm import rcm_sample

PRESET, QUANT, REPS = "wan2.1-t2v-1.3b", "fp8-row", 5
SHAPE = (1, 16, 21, 60, 104)


def main(out_path: str) -> None:
    device = torch.device("cuda")
    attention = AttentionConfig(backend="sagesla", sla_topk=0.1)
    dit, vae, text = build_random(
        dit_preset(PRESET), WAN21_VAE, UMT5_XXL, attention, dtype=torch.bfloat16, device="cuda"
    )
    quantize_(dit, quant_config(QUANT))
    dit.enable_fused_ops()
    ctx = (torch.randn(1, 40, dit.config.text_dim, device=device) * 0.1).to(torch.bfloat16)
    result: dict = {}
    plan = SamplingPlan("rcm", 4, 0, 80.0, False, 5.0, 5.0)
    residency = Residency(device)
    residency.add("dit", dit, group="dit")

    def loop_a() -> float:
        cache = TextContextCache(ctx)
        gen = torch.Generator(device).manual_seed(0)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        rcm_sample(lambda x, t: dit(x, t, cache), SHAPE, generator=gen, steps=4)
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    def loop_b() -> float:
        _, steps = sample_latent(
            residency, ("dit",), None, SHAPE, ctx, None, plan, input_dtype=torch.bfloat16
        )
        return sum(steps)

    def loop_c() -> float:
        gc.disable()
        try:
            return loop_b()
        finally:
            gc.enable()

    with torch.inference_mode():
        for f in (loop_a, loop_b, loop_c):
            f()
        runs = {"A_rcm_eager": [], "B_sample_latent": [], "C_no_gc": []}
        for _ in range(REPS):
            for name, f in zip(runs, (loop_a, loop_b, loop_c), strict=True):
                runs[name].append(f())
    result["dit_loops_s"] = {k: statistics.median(v) for k, v in runs.items()}
    result["dit_loops_all"] = runs
    print(json.dumps(result["dit_loops_s"]), flush=True)

    components = Components(
        preset=get_preset(PRESET), folder=None, dits=(dit,), vae=vae, text_encoder=text,
        tokenizer=ByteTokenizer(UMT5_XXL.text_len), attention=attention, quant=QUANT, dtype=torch.bfloat16,
    )  # fmt: skip
    pipe = TurboPipeline(components, device, fused=True)

    def call(mode: str) -> dict:
        if mode == "empty_cache":
            torch.cuda.empty_cache()
        if mode == "no_gc":
            gc.disable()
        try:
            out = pipe("a red circle moving right", num_frames=81, height=480, width=832, steps=4, seed=1,
                       progress=False)  # fmt: skip
        finally:
            gc.enable()
        return {"mode": mode, "steps_s": out.timings.sampling, "step_s": list(out.timings.steps)}

    modes = ("normal", "no_gc", "empty_cache")
    calls = [call(m) for m in modes]  # warm-up
    calls = []
    for r in range(3):
        calls += [call(m) for m in (modes if r % 2 == 0 else modes[::-1])]
    result["pipeline_steps_s"] = {
        m: statistics.median(c["steps_s"] for c in calls if c["mode"] == m) for m in modes
    }
    result["pipeline_calls"] = calls
    print(json.dumps(result["pipeline_steps_s"]), flush=True)
    for c in calls:
        print(json.dumps(c), flush=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
