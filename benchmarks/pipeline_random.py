"""End-to-end T2V pipeline at a real model shape with random weights: per-stage time and peak GPU memory.

    PYTHONPATH=. python benchmarks/pipeline_random.py --preset wan2.1-t2v-1.3b --resolution 832x480 \
        --frames 81 --steps 4 --attention sdpa sla sagesla --json results/pipeline_random.json
    PYTHONPATH=. python benchmarks/pipeline_random.py --attention sagesla --quant none fp8-row   # W8A8 modes

Random weights give honest timings (no kernel depends on weight values). The DiT, the full-size Wan2.1 VAE
and umT5-XXL are drawn on the GPU; the text goes through the UTF-8 byte tokenizer (the real umT5 tokenizer
file cannot be downloaded here; tokenisation is not timed as a stage). The pipeline runs as ``generate``
does on a GPU: fused kernels and the channels-last VAE (``--no-fused`` for the plain paths). Each
attention backend (and ``--quant`` mode: none, int8, fp8-row, as ``generate --quant``) runs the pipeline
``--repeats`` times: the first call is reported separately (warm-up),
then the median of the rest.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import environment, print_table, write_json

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.umt5 import UMT5_XXL
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines.builtin import build_random
from turbodiffusion.pipelines.components import QUANT_MODES, Components, quant_config
from turbodiffusion.pipelines.pipeline import TurboPipeline
from turbodiffusion.pipelines.presets import get_preset, parse_resolution
from turbodiffusion.pipelines.text import ByteTokenizer
from turbodiffusion.quant import quantize_


def random_pipeline(
    preset: str, backend: str, sla_topk: float, quant: str, *, fused: bool = True, cuda_graphs: bool = False
) -> TurboPipeline:
    """A T2V pipeline of ``preset``'s shapes with random weights on the GPU (quant "none" for bf16)."""
    attention = AttentionConfig(backend=backend, sla_topk=sla_topk)
    dit, vae, text = build_random(
        dit_preset(preset), WAN21_VAE, UMT5_XXL, attention, dtype=torch.bfloat16, device="cuda"
    )
    if quant != "none":
        quantize_(dit, quant_config(quant))
    components = Components(
        preset=get_preset(preset), folder=None, dits=(dit,), vae=vae, text_encoder=text,
        tokenizer=ByteTokenizer(UMT5_XXL.text_len), attention=attention,
        quant=None if quant == "none" else quant, dtype=torch.bfloat16,
    )  # fmt: skip
    return TurboPipeline(components, torch.device("cuda"), fused=fused, cuda_graphs=cuda_graphs)


def run_backend(args, backend: str, quant: str) -> list[dict]:
    pipe = random_pipeline(args.preset, backend, args.sla_topk, quant, fused=not args.no_fused)
    width, height = parse_resolution(args.resolution)
    rows = []
    for i in range(args.repeats):
        torch.cuda.reset_peak_memory_stats()
        out = pipe(
            "a red circle moving right", num_frames=args.frames, height=height, width=width,
            steps=args.steps, seed=i, progress=False,
        )  # fmt: skip
        t = out.timings
        rows.append({
            "backend": backend, "quant": quant, "call": i, "text_s": t.text_encoding, "steps_s": t.sampling,
            "per_step_s": t.sampling / len(t.steps), "decode_s": t.decode, "total_s": t.total,
            "peak_gib": torch.cuda.max_memory_allocated() / 1024**3,
        })  # fmt: skip
        print(f"{backend} {quant} call {i}: {t.summary()} | peak {rows[-1]['peak_gib']:.2f} GiB", flush=True)
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
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-fused", action="store_true", help="plain paths (default: the fused kernels, as generate runs)"
    )
    parser.add_argument("--json", default="results/pipeline_random.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    all_rows, summary = [], []
    for backend in args.attention:
        for quant in args.quant:
            rows = run_backend(args, backend, quant)
            all_rows += rows
            warm = rows[1:] or rows
            med = {
                k: statistics.median(r[k] for r in warm)
                for k in ("text_s", "steps_s", "per_step_s", "decode_s", "total_s")
            }
            summary.append({"backend": backend, "quant": quant, "first_total_s": rows[0]["total_s"], **med,
                            "peak_gib": max(r["peak_gib"] for r in rows)})  # fmt: skip
    base = summary[0]["steps_s"]
    for row in summary:
        row["steps_speedup_vs_first_row"] = base / row["steps_s"]
    print_table(summary, ["backend", "quant", "first_total_s", "text_s", "steps_s", "per_step_s", "decode_s", "total_s",
                          "peak_gib", "steps_speedup_vs_first_row"])  # fmt: skip
    write_json(args.json, {"env": environment(), "args": vars(args), "summary": summary, "calls": all_rows})


if __name__ == "__main__":
    main()
