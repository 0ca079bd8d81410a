"""Where one DiT forward spends its GPU time: kernel time by category, per model variant, in one run.

    PYTHONPATH=. python benchmarks/profile_forward.py wan2.1-t2v-1.3b --resolution 480p \
        --variants sdpa,sagesla+int8+fused,sagesla+fp8+fused --json results/profile_1.3b.json
    PYTHONPATH=. python benchmarks/profile_forward.py wan2.1-t2v-1.3b --quick --json /tmp/p.json  # CPU smoke

A variant is ``attention[+QUANT][+fused]``: the attention backend (sdpa, sla, sagesla), the W8A8 mode
(QUANT one of e2e_stages.QUANT_MODES: int8, fp8 (block-scaled), fp8row, fp8row-fast; none = bf16
linears) and the fused norm ops. Each variant's DiT
(random bf16 weights) is timed as benchmarks/e2e.py times a row (CUDA-event median after a warm-up), then
``--profile-reps`` forwards run under torch.profiler and every GPU kernel's time is summed per forward and
put in one category (``categorize``: gemm, attention, quant, norm, elementwise, copy, other). The table
gives ms per forward per category; the JSON adds the top kernels by time. This says which stage to work on
next: it is a diagnosis, not a speed claim (the profiler adds a little time per launch). On a GPU each row
also has its timeline (benchmarks/timeline.py): busy and idle GPU time per forward, and after which kernels
the GPU waited; ``--graph`` profiles CUDA-graph replays, as the Turbo rows run, where idle time between
kernels is what a forward takes beyond its kernels.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import torch
from common import (
    add_video_arguments,
    benchmark_device,
    check_video_arguments,
    environment,
    print_table,
    write_json,
)
from e2e_stages import (
    QUANT_MODES,
    QUICK_SIZE,
    GraphForward,
    build_dit,
    dit_shape,
    random_dit_inputs,
    reset_memory,
    time_forward,
)
from timeline import gap_summary, gpu_kernel_spans

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset
from turbodiffusion.pipelines.text import trimmed_rows

QUICK_DIT = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64, text_len=32)
CATEGORIES = ("gemm", "attention", "quant", "norm", "elementwise", "copy", "other")
# First match wins: our Triton kernels are named after their op; library kernels after their family.
_RULES = [
    ("quant", r"quant"),
    # SLA's block selection (pooling, top-k, sorting the lut), its linear branch and the one pass over K and V
    # (kv_summary) count as attention: they are the sparse kind's cost.
    (
        "attention",
        r"sla|sage|attn|attention|flash|fmha|softmax|pool_blocks|topk|sort|kv_summary|linear_branch",
    ),
    (
        "gemm",
        r"gemm|scaled_mm|_int_mm|aten::(mm|addmm|bmm|linear)$|cutlass|xmma|nvjet|cublas|matmul|sm90_|wgmma",
    ),
    ("norm", r"norm|modulat|rope|layer_norm|rms"),
    ("copy", r"copy|cat|transpose|permute|contiguous|memcpy|memset|index|gather|scatter|fill"),
    ("elementwise", r"elementwise|vectorized|unrolled|reduce|gated|residual|silu|gelu|mul|add"),
]


def categorize(kernel: str) -> str:
    """The category of a kernel name (one of CATEGORIES)."""
    name = kernel.lower()
    for category, pattern in _RULES:
        if re.search(pattern, name):
            return category
    return "other"


def parse_variant(text: str) -> tuple[str, str | None, bool]:
    """ "sagesla+int8+fused" -> ("sagesla", "int8", True); raises ValueError naming the bad part."""
    parts = [p.strip() for p in text.split("+") if p.strip()]
    if not parts or parts[0] not in ("sdpa", "sla", "sagesla"):
        raise ValueError(f"variant {text!r} must start with sdpa, sla or sagesla")
    quant = [p for p in parts[1:] if p in QUANT_MODES]
    unknown = [p for p in parts[1:] if p not in (*QUANT_MODES, "fused")]
    if unknown or len(quant) > 1:
        raise ValueError(
            f"variant {text!r}: after the attention come at most one of {'/'.join(QUANT_MODES)} and 'fused'"
        )
    return parts[0], (quant[0] if quant else None), "fused" in parts[1:]


def kernel_times(prof: torch.profiler.profile, forwards: int, cuda: bool) -> dict[str, float]:
    """ms per forward of every GPU kernel seen by ``prof`` by kernel name (on the CPU: of every op, by
    its self time, so the --quick smoke run fills the same table)."""
    times: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if cuda:
            us = getattr(event, "self_device_time_total", None)
            if us is None:
                us = getattr(event, "self_cuda_time_total", 0.0)
            on_device = getattr(event, "device_type", None) != torch.autograd.DeviceType.CPU
        else:
            us, on_device = event.self_cpu_time_total, True
        if us and on_device:
            times[event.key] += us / 1e3 / forwards
    return dict(times)


def profile_variant(variant: str, cfg: WanDiTConfig, inputs: tuple, args, device: torch.device) -> dict:
    attention, quant, fused = parse_variant(variant)
    blocks = (128, 64) if attention == "sla" else (None, None)
    config = AttentionConfig(backend=attention, sla_topk=args.sla_topk, block_q=blocks[0], block_k=blocks[1])
    reset_memory(device)
    model = build_dit(cfg, config, device, quant)
    model.enable_fused_ops(fused)

    def forward() -> torch.Tensor:
        return model(*inputs)

    if args.graph:
        with torch.no_grad():
            forward()  # kernels autotune outside the capture
        velocity = GraphForward(model, *inputs)

        def forward() -> torch.Tensor:
            return velocity(inputs[0], inputs[1])

    with torch.no_grad():
        timing, _ = time_forward(forward, args.reps, device)
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(args.profile_reps):
                forward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    cuda = device.type == "cuda"
    kernels = kernel_times(prof, args.profile_reps, cuda=cuda)
    # Busy and idle GPU time (GPU only: CPU op times nest and say nothing of launches).
    timeline = gap_summary(gpu_kernel_spans(prof.events()), args.profile_reps, categorize) if cuda else None
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    for name, ms in kernels.items():
        by_category[categorize(name)] += ms
    top = sorted(kernels.items(), key=lambda kv: -kv[1])[: args.top]
    return {
        "variant": variant, "graph": args.graph, **timing, "kernel_ms": sum(kernels.values()), **by_category,
        "timeline": timeline,
        "top_kernels": [{"kernel": k[:160], "ms": ms, "category": categorize(k)} for k, ms in top],
    }  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser)
    parser.add_argument("--variants", default="sdpa,sagesla+fused,sagesla+int8+fused,sagesla+fp8+fused")
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument("--reps", type=int, default=5, help="timed forwards per variant")
    parser.add_argument("--profile-reps", type=int, default=2, help="forwards under the profiler")
    parser.add_argument("--top", type=int, default=25, help="kernels listed per variant in the JSON")
    parser.add_argument(
        "--graph", action="store_true",
        help="capture each forward in a CUDA graph (as the Turbo rows run) and profile its replays (GPU only)",
    )  # fmt: skip
    parser.add_argument(
        "--prompt-tokens", type=int, default=None,
        help="a prompt of this many tokens in a context trimmed as the pipeline trims it (the padding "
        "attended to as weighted keys); default: a random context of all text_len rows",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny config on the CPU: a smoke run")
    parser.add_argument("--json", default="results/profile_forward.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    try:
        args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        for v in args.variants:
            attention, quant, _ = parse_variant(v)
            if args.quick and (attention == "sagesla" or quant == "fp8"):
                raise ValueError(
                    f"variant {v!r} needs a CUDA GPU (SageSLA and FP8 kernels); not with --quick"
                )
    except ValueError as err:
        parser.error(str(err))
    if args.quick and args.graph:
        parser.error("--graph needs a CUDA GPU (CUDA graphs); not with --quick")
    for name in ("reps", "profile_reps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = benchmark_device(args.quick)
    shape = dit_shape(
        dit_preset(args.preset), args.resolution, args.frames, QUICK_DIT if args.quick else None
    )
    cfg = shape.cfg
    inputs = random_dit_inputs(shape, device)
    if args.prompt_tokens is not None:
        if not 0 < args.prompt_tokens <= cfg.text_len:
            raise SystemExit(
                f"--prompt-tokens must be 1 to text_len={cfg.text_len} (got {args.prompt_tokens})"
            )
        mask = (torch.arange(cfg.text_len) < args.prompt_tokens)[None].long()
        context = inputs[2][:, : trimmed_rows(mask)].clone()
        context[:, args.prompt_tokens :] = 0  # the encoder's padding rows
        inputs = (inputs[0], inputs[1], context, inputs[3])
    size = QUICK_SIZE if args.quick else (shape.frames, shape.height, shape.width)
    print(f"{args.preset} {args.resolution}: video {size}, L={shape.tokens} tokens, {device}", flush=True)
    rows = []
    for variant in args.variants:
        rows.append(profile_variant(variant, cfg, inputs, args, device))
        r = rows[-1]
        line = f"{variant}: fwd {r['fwd_ms']:.1f} ms, kernels {r['kernel_ms']:.1f} ms/fwd"
        if r["timeline"]:
            tl = r["timeline"]
            line += (
                f", GPU busy {tl['busy_ms']:.1f} ms, idle {tl['gap_ms']:.1f} ms, {tl['kernels']:.0f} kernels"
            )
        print(line, flush=True)
        write_json(
            args.json,
            {
                "env": environment(),
                "args": vars(args),
                "tokens": shape.tokens,
                "context_rows": inputs[2].shape[1],
                "rows": rows,
            },  # fmt: skip
        )
    print_table(rows, ["variant", "fwd_ms", "kernel_ms", *CATEGORIES])
    for r in rows:
        print(f"\n{r['variant']}: top kernels (ms per forward)")
        for k in r["top_kernels"][:12]:
            print(f"  {k['ms']:8.2f}  {k['category']:<11} {k['kernel'][:110]}")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
