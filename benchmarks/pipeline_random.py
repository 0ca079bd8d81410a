"""End-to-end pipeline at a real model shape with random weights: per-stage time and peak GPU memory.

    PYTHONPATH=. python benchmarks/pipeline_random.py --preset wan2.1-t2v-1.3b --resolution 832x480 \
        --frames 81 --steps 4 --attention sdpa sla sagesla --json results/pipeline_random.json
    PYTHONPATH=. python benchmarks/pipeline_random.py --attention sagesla --quant none fp8-row   # W8A8 modes
    PYTHONPATH=. python benchmarks/pipeline_random.py --preset wan2.2-i2v-a14b --resolution 1280x720 \
        --attention sagesla --quant fp8-row-fast --experts swap auto   # Wan2.2's experts: taking turns or not

Random weights give honest timings (no kernel depends on weight values). The DiT (Wan2.2 I2V: both experts,
and a random conditioning image), the full-size Wan2.1 VAE and umT5-XXL are drawn on the GPU; the text goes
through the UTF-8 byte tokenizer (the real umT5 tokenizer file cannot be downloaded here; tokenisation is
not timed as a stage). The pipeline runs as ``generate`` does on a GPU: fused kernels and the channels-last
VAE (``--no-fused`` for the plain paths). Each attention backend (and ``--quant`` mode: none, int8,
fp8-row, fp8-row-fast, as ``generate --quant``; and for Wan2.2 each ``--experts`` policy: ``auto``, the
pipeline's own, which keeps both experts on a GPU that holds them, or ``swap``, the experts taking turns as
on a smaller GPU) runs the pipeline ``--repeats`` times: the first call is reported separately (warm-up),
then the median of the rest.
"""

from __future__ import annotations

import argparse
import statistics
from unittest import mock

import torch
from common import environment, print_table, write_json

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.umt5 import UMT5_XXL
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines import pipeline as pipeline_module
from turbodiffusion.pipelines.builtin import _build, build_random
from turbodiffusion.pipelines.components import QUANT_MODES, Components, quant_config
from turbodiffusion.pipelines.pipeline import TurboPipeline
from turbodiffusion.pipelines.presets import get_preset, parse_resolution
from turbodiffusion.pipelines.residency import expert_group
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_


def random_pipeline(
    preset: str, backend: str, sla_topk: float, quant: str, *, fused: bool = True, cuda_graphs: bool = False,
    experts: str = "auto", device: str = "cuda",
) -> TurboPipeline:  # fmt: skip
    """A pipeline of ``preset``'s shapes with random weights on ``device`` (quant "none" for bf16).
    ``experts`` (Wan2.2): "auto" lets the pipeline place its two experts, "swap" makes them take turns on
    the device."""
    attention = AttentionConfig(backend=backend, sla_topk=sla_topk)
    config = dit_preset(preset)
    dit, vae, text = build_random(config, WAN21_VAE, UMT5_XXL, attention, dtype=torch.bfloat16, device=device)
    if quant != "none":
        quantize_(dit, quant_config(quant))
    dits = [dit]
    if get_preset(preset).task == "i2v":  # the low-noise expert: same shapes, its own draws
        generator = torch.Generator(device).manual_seed(1)
        dits.append(_build(WanDiT, config, attention, generator=generator, dtype=torch.bfloat16))
        # Each expert quantised as it is made: two bf16 A14B experts and umT5-XXL overran an 80 GB H100
        # (h100-2026-12-05b).
        if quant != "none":
            quantize_(dits[-1], quant_config(quant))
    components = Components(
        preset=get_preset(preset), folder=None, dits=tuple(dits), vae=vae, text_encoder=text,
        tokenizer=ByteTokenizer(UMT5_XXL.text_len), attention=attention,
        quant=None if quant == "none" else quant, dtype=torch.bfloat16,
    )  # fmt: skip
    # "swap": the grouping the pipeline gives its experts on a GPU too small for both (expert_group).
    policy = (lambda weight_bytes, device_bytes: "dit") if experts == "swap" else expert_group
    with mock.patch.object(pipeline_module, "expert_group", policy):
        return TurboPipeline(components, torch.device(device), fused=fused, cuda_graphs=cuda_graphs)


def run_backend(args, backend: str, quant: str, experts: str = "auto") -> list[dict]:
    pipe = random_pipeline(
        args.preset, backend, args.sla_topk, quant, fused=not args.no_fused, experts=experts
    )
    width, height = parse_resolution(args.resolution)
    image = None
    if pipe.task == "i2v":
        g = torch.Generator().manual_seed(3)
        image = torch.randint(0, 256, (height, width, 3), generator=g, dtype=torch.uint8).numpy()
    rows = []
    for i in range(args.repeats):
        torch.cuda.reset_peak_memory_stats()
        # A new prompt each call: the pipeline skips encoding a prompt it has encoded (PromptCache).
        out = pipe(
            f"a red circle moving right, take {i}", image, num_frames=args.frames, height=height, width=width,
            steps=args.steps, seed=i, progress=False,
        )  # fmt: skip
        t = out.timings
        rows.append({
            "backend": backend, "quant": quant, "experts": experts, "call": i, "text_s": t.text_encoding,
            "image_s": t.image_encoding, "steps_s": t.sampling, "per_step_s": t.sampling / len(t.steps),
            "decode_s": t.decode, "total_s": t.total, "peak_gib": torch.cuda.max_memory_allocated() / 1024**3,
            "resident": sorted(pipe.residency.on_device()),
        })  # fmt: skip
        print(f"{backend} {quant} {experts} call {i}: {t.summary()} | peak {rows[-1]['peak_gib']:.2f} GiB | "
              f"on the GPU after: {', '.join(rows[-1]['resident'])}", flush=True)  # fmt: skip
    del pipe
    torch.cuda.empty_cache()
    return rows


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset, --resolution, --frames, --steps and --sla-topk: what each timed call generates."""
    parser.add_argument("--preset", default="wan2.1-t2v-1.3b", help="DiT shape preset")
    parser.add_argument("--resolution", default="832x480", help="WxH")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--sla-topk", type=float, default=0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_request_arguments(parser)
    parser.add_argument("--attention", nargs="+", default=["sdpa"], help="backends to run, one after another")
    parser.add_argument(
        "--quant",
        nargs="+",
        default=["none"],
        choices=["none", *QUANT_MODES],
        help="W8A8 modes to run (generate --quant's)",
    )
    parser.add_argument(
        "--experts",
        nargs="+",
        default=["auto"],
        choices=["auto", "swap"],
        help="Wan2.2's two experts: auto = the pipeline's placement, swap = taking turns on the device",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-fused", action="store_true", help="plain paths (default: the fused kernels, as generate runs)"
    )
    parser.add_argument("--json", default="results/pipeline_random.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    all_rows, summary = [], []
    experts = args.experts if get_preset(args.preset).task == "i2v" else ["auto"]
    for backend in args.attention:
        for quant in args.quant:
            for policy in experts:
                rows = run_backend(args, backend, quant, policy)
                all_rows += rows
                warm = rows[1:] or rows
                med = {
                    k: statistics.median(r[k] for r in warm)
                    for k in ("text_s", "steps_s", "per_step_s", "decode_s", "total_s")
                }
                summary.append({"backend": backend, "quant": quant, "experts": policy,
                                "first_total_s": rows[0]["total_s"], **med,
                                "peak_gib": max(r["peak_gib"] for r in rows)})  # fmt: skip
    base = summary[0]["steps_s"]
    for row in summary:
        row["steps_speedup_vs_first_row"] = base / row["steps_s"]
    print_table(summary, ["backend", "quant", "experts", "first_total_s", "text_s", "steps_s", "per_step_s",
                          "decode_s", "total_s", "peak_gib", "steps_speedup_vs_first_row"])  # fmt: skip
    write_json(args.json, {"env": environment(), "args": vars(args), "summary": summary, "calls": all_rows})


if __name__ == "__main__":
    main()
