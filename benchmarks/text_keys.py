"""The text padding attended to as weighted keys against all text_len rows, side by side in one run.

    PYTHONPATH=.:benchmarks python benchmarks/text_keys.py wan2.1-t2v-1.3b --resolution 480p \
        --json results/text_keys.json
    PYTHONPATH=.:benchmarks python benchmarks/text_keys.py wan2.1-t2v-1.3b --quick   # CPU smoke run

A prompt's context (``--prompt-tokens`` random rows, then zeros, as the text encoder leaves it) goes to the
DiT whole (text_len rows: official Wan's cross-attention over every row; its cost does not depend on the
prompt) and trimmed as the pipeline trims it (``pipelines.text.trimmed_rows``: a 24-token prompt keeps 32
rows, to which the DiT adds the padding's weighted stand-ins, ``models.wan.text_padding``), once for each
prompt length: the saving shrinks as prompts grow (Wan's extended prompts run to 100-200 tokens). Two
measurements, the variants taking turns over ``--rounds`` rounds (order rotating):

1. the cross-attention's SDPA alone, q [1, L, H, D] against each variant's keys (on a GPU the profiler
   names the kernels each ran, since a bias rules some SDPA backends out);
2. a later step's whole forward (the text cache filled) as the pipeline runs it: on a GPU the Turbo
   configuration (SageSLA top-k 0.1, FP8 row-wise linears with fast accumulation, fused ops) replayed from
   the pipeline's CUDA graphs (``ForwardGraphs``); on the CPU (--quick: a tiny config with text_len 512)
   SLA with bf16 linears, eagerly.

Prints the medians, full / trimmed ratios and the forwards' relative L2 (beside, for scale, how far moving
the prompt's rows by one bf16 step moves the full-context forward: ``rounding_scale``), and writes every time
to JSON. The baseline of each ratio is the full context in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics

import torch
from common import (
    add_video_arguments,
    benchmark_device,
    check_video_arguments,
    environment,
    print_table,
    write_json,
)
from e2e_stages import build_dit, dit_shape, time_calls
from torch import Tensor

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset
from turbodiffusion.models.wan.text_cache import TextContextCache
from turbodiffusion.models.wan.text_padding import key_bias, padding_biases
from turbodiffusion.pipelines.forward_graphs import ForwardGraphs
from turbodiffusion.pipelines.text import trimmed_rows
from turbodiffusion.testing.compare import rel_l2

QUICK_DIT = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64, text_len=512)


def make_contexts(cfg: WanDiTConfig, device: torch.device, prompt_tokens: list[int]) -> dict[str, Tensor]:
    """{"full": [1, text_len, text_dim] (the first prompt's), "trimmed@N": a prompt of N tokens trimmed to
    trimmed_rows rows, for each N}, bf16."""
    g = torch.Generator(device).manual_seed(8)
    contexts = {}
    for n in prompt_tokens:
        full = torch.zeros(1, cfg.text_len, cfg.text_dim, device=device)
        full[:, :n] = torch.randn(1, n, cfg.text_dim, generator=g, device=device)
        mask = torch.zeros(1, cfg.text_len, dtype=torch.long)
        mask[:, :n] = 1
        full = full.to(torch.bfloat16)
        contexts.setdefault("full", full)
        contexts[f"trimmed@{n}"] = full[:, : trimmed_rows(mask)].contiguous()
    return contexts


def sdpa_calls(cfg: WanDiTConfig, tokens: int, contexts: dict[str, Tensor], device: torch.device) -> dict:
    """Per variant, a call of the cross-attention's SDPA on random q, k, v of the variant's key count."""
    heads, head_dim = cfg.num_heads, cfg.dim // cfg.num_heads
    g = torch.Generator(device).manual_seed(9)
    q = torch.randn(1, tokens, heads, head_dim, generator=g, device=device).to(torch.bfloat16)
    calls = {}
    for name, context in contexts.items():
        rows = context.shape[1]
        biases = padding_biases(rows, cfg.text_len, torch.bfloat16)
        bias = key_bias(rows, biases, torch.bfloat16, device)
        k, v = torch.randn(2, 1, rows + len(biases), heads, head_dim, generator=g, device=device).to(q.dtype)
        calls[name] = (lambda k=k, v=v, bias=bias: sdpa_attention(q, k, v, bias), rows + len(biases))
    return calls


def kernel_names(fn, device: torch.device) -> list[str]:
    """The GPU kernels one call of ``fn`` launches (empty off CUDA)."""
    if device.type != "cuda":
        return []
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    return sorted({e.key[:120] for e in prof.key_averages() if e.device_type.name == "CUDA"})


class LaterStep:
    """A variant's later-step forward: on CUDA a sampling run on the pipeline's graphs (``ForwardGraphs``, one
    for all variants: their graphs share its memory pool, as a pipeline's do), eager with a
    ``TextContextCache`` on the CPU. ``start`` begins a run: its first call replays the fill graph, which
    writes the text's k and v into the variant's cache. A run of another variant may have overwritten them
    (a capture can place an entry's cache where an earlier graph keeps its intermediates; the pipeline
    starts every run with its fill graph too), so each variant's calls follow its own ``start``."""

    def __init__(self, graphs: ForwardGraphs, model, x: Tensor, t: Tensor, context: Tensor) -> None:
        self.graphs, self.model, self.x, self.t, self.context = graphs, model, x, t, context
        self.cuda = x.device.type == "cuda"
        self.cache = None if self.cuda else TextContextCache(context)
        self.step = None

    def start(self) -> None:
        if self.cuda:
            self.step = self.graphs.velocity(self.model, self.context, None)
            self.step(self.x, self.t)  # the run's first forward: the fill graph (captured on the first run)

    def __call__(self) -> Tensor:
        if not self.cuda:
            return self.model(self.x, self.t, self.cache)
        return self.step(self.x, self.t)  # a later forward: the cached graph (captured on the first run)


def forward_calls(model, x: Tensor, t: Tensor, contexts: dict[str, Tensor]) -> dict[str, LaterStep]:
    """Per variant, its later-step forward (``LaterStep``), started once: on CUDA both graphs of each context
    are captured here (contexts of different lengths are separate entries)."""
    graphs = ForwardGraphs()
    calls = {name: LaterStep(graphs, model, x, t, context) for name, context in contexts.items()}
    for call in calls.values():
        call.start()
        call()
    return calls


def alternate(calls: dict, rounds: int, reps: int, device: torch.device) -> dict[str, list[float]]:
    """ms of every timed call per variant, the variants' order rotating by round (one warm-up each). A call
    with a ``start`` (a ``LaterStep``) is started before each of its blocks."""
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for fn in calls.values():
        getattr(fn, "start", lambda: None)()
        fn()
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            getattr(calls[name], "start", lambda: None)()
            times[name] += time_calls(calls[name], reps, device)
    return times


def rounding_scale(model, x: Tensor, t: Tensor, full: Tensor, prompt_tokens: int) -> float:
    """Rel L2 between eager forwards on ``full`` [1, text_len, text_dim] bf16 and on ``full`` with its first
    ``prompt_tokens`` rows moved by one bf16 step (each entry times 1 +- 2^-7, a fixed random sign): how far
    rounding alone moves this model's output, the scale against which the trimmed forwards' differences
    read. (An exact change of the attention, the padding's stand-ins, differs by bf16 and FP8 rounding.)"""
    g = torch.Generator(full.device).manual_seed(10)
    signs = torch.randint(0, 2, full[:, :prompt_tokens].shape, generator=g, device=full.device) * 2 - 1
    moved = full.clone()
    moved[:, :prompt_tokens] = (full[:, :prompt_tokens].float() * (1 + 2.0**-7 * signs)).to(full.dtype)
    reference = model(x, t, TextContextCache(full)).float()
    return rel_l2(model(x, t, TextContextCache(moved)).float(), reference)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser)
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument(
        "--prompt-tokens", type=int, nargs="+", default=[24, 120, 240], help="prompt lengths to trim"
    )
    parser.add_argument("--rounds", type=int, default=4, help="rounds of all variants, order rotating")
    parser.add_argument("--reps", type=int, default=5, help="timed calls a variant a round")
    parser.add_argument("--quick", action="store_true", help="tiny config (text_len 512) on the CPU")
    parser.add_argument("--json", default="results/text_keys.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    device = benchmark_device(args.quick)
    shape = dit_shape(
        dit_preset(args.preset), args.resolution, args.frames, QUICK_DIT if args.quick else None
    )
    cfg, tokens = shape.cfg, shape.tokens
    if not all(0 < n < cfg.text_len for n in args.prompt_tokens):
        parser.error(f"--prompt-tokens must lie in 1..{cfg.text_len - 1} (got {args.prompt_tokens})")
    contexts = make_contexts(cfg, device, args.prompt_tokens)
    print(f"{args.preset} {args.resolution}: L={tokens}, text_len {cfg.text_len}, {device}", flush=True)

    rows = []
    with torch.no_grad():
        sdpa = sdpa_calls(cfg, tokens, contexts, device)
        kernels = {name: kernel_names(fn, device) for name, (fn, _) in sdpa.items()}
        times = alternate({name: fn for name, (fn, _) in sdpa.items()}, args.rounds, args.reps, device)
        for name, (_, keys) in sdpa.items():
            rows.append({"part": "cross-attention SDPA", "variant": name, "keys": keys,
                         "ms": statistics.median(times[name]), "calls": len(times[name])})  # fmt: skip
        del sdpa

        cuda = device.type == "cuda"
        attention = AttentionConfig(backend="sagesla" if cuda else "sla", sla_topk=args.sla_topk)
        model = build_dit(cfg, attention, device, "fp8row-fast" if cuda else None)
        model.enable_fused_ops(True)
        g = torch.Generator(device).manual_seed(5)
        x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
        t = torch.full((1,), 757.0, device=device, dtype=torch.bfloat16)
        forwards = forward_calls(model, x, t, contexts)
        outs = {}
        for name, fn in forwards.items():
            fn.start()
            outs[name] = fn().float().clone()
        times_fwd = alternate(forwards, args.rounds, args.reps, device)
        for name in contexts:
            keys = next(r["keys"] for r in rows if r["variant"] == name)
            rows.append({"part": "forward (later step)", "variant": name, "keys": keys,
                         "ms": statistics.median(times_fwd[name]), "calls": len(times_fwd[name])})  # fmt: skip
        # Each trimmed forward against the same prompt's full context (eager: one call each, not timed).
        forward_rel_l2 = {}
        for name, context in contexts.items():
            if name != "full":
                rows_kept = context.shape[1]
                full = torch.cat([context, context.new_zeros(1, cfg.text_len - rows_kept, cfg.text_dim)], 1)
                reference = model(x, t, TextContextCache(full)).float()
                forward_rel_l2[name] = rel_l2(outs[name], reference)
                del reference
        rounding_rel_l2 = rounding_scale(model, x, t, contexts["full"], args.prompt_tokens[0])
    for part in {r["part"] for r in rows}:
        full = next(r for r in rows if r["part"] == part and r["variant"] == "full")
        for row in rows:
            if row["part"] == part and row is not full:
                row["speedup"] = full["ms"] / row["ms"]
    print_table(rows, ["part", "variant", "keys", "ms", "calls", "speedup"])
    for name, err in forward_rel_l2.items():
        print(f"forward output, {name} against the same prompt's full context: rel L2 {err:.3e}")
    print(f"forward output, the full context's prompt rows moved by one bf16 step, against it: rel L2 "
          f"{rounding_rel_l2:.3e} (the model's own sensitivity to rounding, for scale)")  # fmt: skip
    for name, names in kernels.items():
        print(f"SDPA kernels ({name}): {'; '.join(names) or '-'}")
    write_json(
        args.json,
        {
            "env": environment(), "args": vars(args), "tokens": tokens, "config": dataclasses.asdict(cfg),
            "rows": rows, "sdpa_ms": times, "forward_ms": times_fwd,
            "forward_rel_l2": forward_rel_l2, "rounding_rel_l2": rounding_rel_l2, "sdpa_kernels": kernels,
            "finite": all(bool(torch.isfinite(o).all()) for o in outs.values()),
        },
    )  # fmt: skip
    if not all(math.isfinite(e) for e in forward_rel_l2.values()):
        raise SystemExit("the forwards' outputs are not finite")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
