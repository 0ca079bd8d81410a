"""End-to-end speed on real shapes: the ablation table of issue 6, every row measured in one run.

    PYTHONPATH=. python benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --json results/e2e_1.3b.json
    PYTHONPATH=. python benchmarks/e2e.py wan2.1-t2v-14b --resolution 720p --reps 1 --base-reps 1 \
        --loops none --peer /tmp/peer --json results/e2e_14b_720p.json   # /tmp/peer: built official sdist
    PYTHONPATH=. python benchmarks/e2e.py wan2.2-i2v-a14b --resolution 720p --rows baseline,+rCM,+graph \
        --json results/e2e_a14b_720p.json
    PYTHONPATH=. python benchmarks/e2e.py wan2.1-t2v-1.3b --quick --json /tmp/e2e_quick.json   # CPU smoke

Rows, cumulative, each on a DiT with random bf16 weights drawn on the device (timings do not depend on
weight values):
    baseline   sdpa, bf16 linears, 50 steps with CFG = 100 forwards: diffusion_s = 100 x the measured
               per-forward median, always EXTRAPOLATED (the "how" column says so).
    +rCM       the same model, 4 rCM steps without CFG.
    +SLA       SLA self-attention at --sla-topk.          +SageSLA   SageSLA at --sla-topk (CUDA only).
    +W8A8      quantize_(model, Int8Config()) on the SageSLA model.
    +fused     WanDiT.enable_fused_ops(): Triton LayerNorm+modulation, RMSNorm, gated residual; a
               TextContextCache: the text's cross-attention k and v made by a loop's first step only; and
               the context trimmed as the pipeline trims it (pipelines.text.trimmed_rows: the prompt's
               rows, the padding attended to as a few weighted keys, models.wan.text_padding). Every
               later row keeps these but the peer pair; the rows before read all text_len rows, as
               official Wan.
    +graph     the forward in CUDA graphs, replayed per step (CUDA only): with the text cache the
               pipeline's own ForwardGraphs (cuda_graphs=True): the first step's graph fills the cache,
               the later steps' graph reads it.
    turbo-bf16 +graph's switches (+fused's on the CPU) with bf16 linears instead of W8A8: the faster Turbo
               path wherever the INT8 GEMM does not beat cuBLAS bf16 (compared with that row).
    turbo-fp8  turbo-bf16's switches with FP8 row-wise W8A8 (Fp8RowConfig: PyTorch's row-wise FP8 GEMM,
               activations quantised inside the fused norms); compared with turbo-bf16.
    turbo-fp8-fast  the same with the FP8 GEMM's fast accumulation (Fp8RowConfig(fast_accum=True)).
    ours@peer  sla + W8A8 + fused: our kernels at the settings the official package can run (its SageSLA
               needs SpargeAttn, which its sdist lacks).
    peer       the same model with the official 1.0.0 kernels swapped in (benchmarks/peer_official.py);
               only with --peer. A peer that cannot load gives a row that says why.
A Turbo row's diffusion_s is the whole rCM sampler loop timed ("loop": 4 forwards + sampler arithmetic;
the median of --loop-reps loops after an untimed one, whose time is first_loop_s) when --loops asks for
it, else 4 x the per-forward median ("4 x fwd", extrapolated). i2v presets (Wan2.2
A14B) run one expert: both experts have the same shape, so the time per forward is the same; the second
expert's weights are reported, not allocated (peak_2x_gib adds them to the measured peak).

Per-forward times are CUDA-event medians (p20/p80 beside them) after one warm-up call, whose time (autotune
included) is first_call_s. Text encoding (umT5-XXL), the i2v image encoding and the VAE decode (WAN21_VAE,
bf16) are timed separately, each with its model alone on the GPU; total_s = text + encode + diffusion +
decode, the text encoded trimmed for the rows from +fused on (the stage's s) and whole before (s_full). peak_gib is torch.cuda.max_memory_allocated from the end of the row's model build (weights
resident) to the end of its timing. host_syncs counts the host synchronisations torch reports
(set_sync_debug_mode) inside a timed sampler loop: it must be 0. fwd_sm_mhz and loop_sm_mhz are the median
SM clocks nvidia-smi saw while the forwards and the loops were timed (benchmarks/gpu_clock.py; loop_clock
adds power and the share of samples held by the power cap): sustained FP8 loops can run at the power cap
below the short forward bursts' clock. None without nvidia-smi.
Correctness: every row's forward on the shared inputs must be finite, and is compared (rel_l2) with the row
whose only difference is the one step added ("vs"), e.g. peer against ours@peer. Roofline: FLOPs and
bytes of a forward (benchmarks/roofline.py), the floor at ceilings measured in this run, x_floor =
measured / floor. The decode stage is timed in the official layout and in the pipeline's (channels-last,
fused norms), the i2v image encode in the pipeline's, each at every --vae-chunk-latents setting; the
pipeline layout's best time is the one in total_s, and each setting's memory over what was allocated before
it (added_gib) is what it needs free. The run drops cuBLASLt's workspace as ``turbodiffusion generate``
does (CUBLASLT_WORKSPACE_SIZE=0 unless exported; ``--keep-cublaslt-workspace`` leaves it; env records it).
``--quick`` runs a tiny config on the CPU
(no CUDA events, graphs, SageSLA or peer) so the script is checked before GPU time is spent.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from common import (
    add_video_arguments,
    benchmark_device,
    check_video_arguments,
    environment,
    measure_ceilings,
    print_table,
    write_json,
)
from e2e_stages import (
    QUANT_MODES,
    GraphForward,
    build_dit,
    cpu_ceilings,
    decode_stage,
    dit_shape,
    encode_stage,
    first_call,
    param_gib,
    peak_gib,
    reset_memory,
    sync,
    text_stage,
    time_calls,
    time_forward,
)
from gpu_clock import ClockSampler
from peer_official import PeerUnavailable, load_peer, swap_in_peer
from roofline import dit_forward_cost, floor_seconds
from torch import Tensor

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sagesla import default_blocks
from turbodiffusion.models.umt5 import UMT5_XXL
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.models.wan.text_cache import TextContextCache
from turbodiffusion.models.wan.text_padding import padding_biases
from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines.builtin import BUILTIN_UMT5, BUILTIN_VAE
from turbodiffusion.pipelines.forward_graphs import ForwardGraphs
from turbodiffusion.pipelines.gemm_workspace import skip_cublaslt_workspace
from turbodiffusion.sampling.rcm import rcm_sample
from turbodiffusion.sampling.schedules import SIGMA_MAX_I2V, SIGMA_MAX_T2V
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.host_syncs import count_host_syncs

# --quick's tiny DiT and text encoder; text_len 64, so the engineering rows' trimmed context (a 24-token
# prompt: 32 rows, 48 keys) differs from the full one.
QUICK_DIT = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64, text_len=64)
QUICK_UMT5 = dataclasses.replace(BUILTIN_UMT5, text_len=QUICK_DIT.text_len)
BASELINE_STEPS, TURBO_STEPS = 50, 4
BF16_TURBO = "turbo-bf16"  # the final row's switches without W8A8
FP8_TURBO = ("turbo-fp8", "turbo-fp8-fast")  # the final row's switches with FP8 row-wise W8A8
PEER_PAIR = ("ours@peer", "peer")  # run last, after the decode stage: a crash there loses no other row
COLUMNS = [
    "row", "attention", "gemm", "norms", "graph", "how", "fwd_ms", "fwd_p20", "fwd_p80", "first_call_s",
    "diffusion_s", "speedup", "total_s", "e2e_speedup", "peak_gib", "floor_ms", "x_floor", "host_syncs",
    "fwd_sm_mhz", "loop_sm_mhz", "vs", "rel_l2",
]  # fmt: skip


@dataclass(frozen=True)
class RowPlan:
    """One row of the table: what the DiT runs and how its diffusion time is obtained."""

    name: str
    attention: str  # "sdpa" | "sla" | "sagesla"
    quant: str | None  # an e2e_stages.QUANT_MODES name, or None for bf16 linears
    fused: bool
    graph: bool
    cfg: bool  # True: the baseline (50 steps x 2 forwards, extrapolated); False: 4 rCM steps
    vs: str | None  # the row this one is compared with (rel_l2 of the forward outputs)
    peer: bool = False


@dataclass
class Inputs:
    """Shared DiT inputs of every row: latent x [1, 16, F, h, w] bf16, timestep t [1] bf16, context
    [1, text_len, text_dim] bf16 (official Wan's), the same context trimmed as the pipeline trims it
    [1, rows, text_dim] (pipelines.text.trimmed_rows), y [1, 20, F, h, w] bf16 (i2v) or None."""

    x: Tensor
    t: Tensor
    context: Tensor
    trimmed_context: Tensor
    y: Tensor | None

    def row_context(self, plan: RowPlan) -> Tensor:
        """The engineering rows' context is the pipeline's (trimmed: the DiT attends to the cut padding as
        weighted keys); the rows before them and the peer pair read all text_len rows, as official Wan."""
        return self.trimmed_context if uses_text_cache(plan) else self.context


# ---------------------------------------------------------------------------------------------------------
# DiT rows


@dataclass(frozen=True)
class RowVelocity:
    """A row's DiT call: ``step`` for any denoising step, ``first`` for a sampler loop's first step. With a
    TextContextCache (``uses_text_cache``) the first step computes the text embedding and every block's
    cross-attention k and v, which the later steps read; without one both are the same call."""

    step: Callable[[Tensor, Tensor], Tensor]
    first: Callable[[Tensor, Tensor], Tensor]


def uses_text_cache(plan: RowPlan) -> bool:
    """Engineering rows keep the text's k and v across steps (models.wan.text_cache); the rows before them
    and the kernel-for-kernel peer pair recompute them every forward, as official Wan does."""
    return plan.fused and plan.name not in PEER_PAIR


def eager_velocity(model: WanDiT, inputs: Inputs, plan: RowPlan) -> RowVelocity:
    context = inputs.row_context(plan)
    if not uses_text_cache(plan):

        def velocity(x_in: Tensor, t_in: Tensor) -> Tensor:
            return model(x_in, t_in, context, inputs.y)

        return RowVelocity(velocity, velocity)
    cache = TextContextCache(context)

    def step(x_in: Tensor, t_in: Tensor) -> Tensor:
        return model(x_in, t_in, cache, inputs.y)

    def first(x_in: Tensor, t_in: Tensor) -> Tensor:
        cache.clear()
        return step(x_in, t_in)

    return RowVelocity(step, first)


def graph_velocity(model: WanDiT, inputs: Inputs, plan: RowPlan) -> RowVelocity:
    """The row's forward captured in CUDA graphs, both captured here. Without the text cache one graph; with
    it the pipeline's own ``ForwardGraphs`` (what ``cuda_graphs=True`` runs): the first step's graph fills
    the graphs' cache and the later steps' graph reads it. Each of the row's velocities returns a fresh
    tensor, as the pipeline's does."""
    x, t, y, context = inputs.x, inputs.t, inputs.y, inputs.row_context(plan)
    if not uses_text_cache(plan):
        velocity = GraphForward(model, x, t, context, y)
        return RowVelocity(velocity, velocity)
    graphs = ForwardGraphs()  # the row's own: another row's switches make other graphs of the same model

    def first(x_in: Tensor, t_in: Tensor) -> Tensor:
        return graphs.velocity(model, context, y)(x_in, t_in)  # a sampling run's first forward

    step = graphs.velocity(model, context, y)
    with torch.no_grad():
        step(x, t)  # captures the first step's graph
        step(x, t)  # and the later steps' one, which every later call of ``step`` replays
    return RowVelocity(step, first)


def time_row(
    plan: RowPlan,
    velocity: RowVelocity,
    inputs: Inputs,
    *,
    args: argparse.Namespace,
    device: torch.device,
    sigma_max: float,
    measure_loop: bool,
    same_as: tuple[dict, Tensor] | None = None,
) -> tuple[dict, Tensor, Tensor | None]:
    """Time one row. Returns (row, forward output on the shared inputs (fp32), final latent or None).

    same_as: (row, output) of an earlier row that ran this very forward (same model, same switches, e.g.
    baseline for +rCM): its per-forward times are reused instead of timing the same forward again.
    """
    x, t = inputs.x, inputs.t
    reps = args.base_reps if plan.attention == "sdpa" else args.reps

    def forward() -> Tensor:
        return velocity.step(x, t)

    with torch.no_grad():
        if same_as is None:
            with ClockSampler(device) as fwd_clock:  # the warm-up call included: it precedes the timed ones
                timing, out = time_forward(forward, reps, device)
            timing["fwd_sm_mhz"] = (fwd_clock.summary or {}).get("sm_mhz")
        else:
            prev, out = same_as
            keys = ("first_call_s", "fwd_ms", "fwd_p20", "fwd_p80", "fwd_reps", "fwd_sm_mhz")
            timing = {k: prev[k] for k in keys}
        p50 = timing["fwd_ms"]
        latent, syncs, first_loop_s, loop_clock = None, None, None, None
        if plan.cfg:
            diffusion_s, how = BASELINE_STEPS * 2 * p50 / 1e3, f"{BASELINE_STEPS * 2} x fwd"
        elif measure_loop:
            gen = torch.Generator(device).manual_seed(4)
            last: list[Tensor] = []

            def sample() -> None:
                # Keeps the latest latent (for the decode stage) without an extra loop; clear() is host-only.
                last.clear()
                calls = [0]

                def loop_velocity(x_in: Tensor, t_in: Tensor) -> Tensor:
                    calls[0] += 1
                    return (velocity.first if calls[0] == 1 else velocity.step)(x_in, t_in)

                last.append(
                    rcm_sample(loop_velocity, x.shape, generator=gen, steps=TURBO_STEPS, sigma_max=sigma_max)
                )

            # One untimed loop first, as the forward has its warm-up: at 1.3B-480p a process's first loop ran
            # 5-11 ms longer than the next ones (benchmarks/runs/h200-2026-12-03).
            first_loop_s, _ = first_call(sample, device)
            counter = count_host_syncs(device)
            with ClockSampler(device) as clocks:  # through time_calls' final synchronisation
                loops = time_calls(sample, args.loop_reps, device, guard=counter)
            loop_clock = clocks.summary
            diffusion_s, how, syncs = statistics.median(loops) / 1e3, "loop", counter.count
            latent = last[0]
        else:
            diffusion_s, how = TURBO_STEPS * p50 / 1e3, f"{TURBO_STEPS} x fwd"
    if not torch.isfinite(out).all():
        raise SystemExit(f"row {plan.name}: the forward output has NaN or inf; refusing to report its speed")
    row = {
        "row": plan.name, "attention": plan.attention, "gemm": plan.quant or "bf16",
        "norms": "peer" if plan.peer else ("fused" if plan.fused else "eager"), "graph": plan.graph,
        "forwards": BASELINE_STEPS * 2 if plan.cfg else TURBO_STEPS, "how": how, "extrap": how != "loop",
        **timing, "diffusion_s": diffusion_s, "first_loop_s": first_loop_s, "peak_gib": peak_gib(device),
        "host_syncs": syncs, "loop_sm_mhz": (loop_clock or {}).get("sm_mhz"), "loop_clock": loop_clock,
    }  # fmt: skip
    return row, out, latent


def group_plans(plans: list[RowPlan]) -> list[list[RowPlan]]:
    """Consecutive rows that share one built model (same attention and W8A8); the peer pair apart."""
    groups: list[list[RowPlan]] = []
    for plan in plans:
        last = groups[-1][-1] if groups else None
        fresh = plan.name == PEER_PAIR[0]  # the peer pair always gets its own model (run after decode)
        if last is not None and not fresh and (last.attention, last.quant) == (plan.attention, plan.quant):
            groups[-1].append(plan)
        else:
            groups.append([plan])
    return groups


def run_group(
    plans: list[RowPlan],
    cfg: WanDiTConfig,
    inputs: Inputs,
    *,
    args: argparse.Namespace,
    device: torch.device,
    sigma_max: float,
    final_row: str,
) -> tuple[list[dict], dict[str, Tensor], Tensor | None, float]:
    """Build one model and time its rows; the model is freed when this returns.

    Returns (rows, forward outputs by row name, last sampled latent or None, the model's weight GiB).
    """
    reset_memory(device)
    head = plans[0]
    # The official SLA path's blocks; SageSLA's are --sagesla-blocks or the device's official ones.
    sla_blocks = (128, 64) if head.attention == "sla" else args.sagesla_blocks or (None, None)
    attention = AttentionConfig(
        backend=head.attention, sla_topk=args.sla_topk, block_q=sla_blocks[0], block_k=sla_blocks[1]
    )
    model = build_dit(cfg, attention, device, head.quant)
    # Peak from here on: quantize_ holds the bf16 and int8 weights together while it swaps (a quantised
    # checkpoint loads straight into int8), and that transient is not the row's inference footprint.
    reset_memory(device)
    weights = param_gib(model)
    rows, outs, latent = [], {}, None
    previous: RowPlan | None = None
    for plan in plans:
        note = None
        if plan.peer:
            try:
                kernels = load_peer(args.peer, wait_file=args.peer_wait_file, wait_s=args.peer_wait_s)
                counts = swap_in_peer(model, kernels)
                note = f"official kernels swapped in: {counts}"
            except (PeerUnavailable, ValueError) as err:
                rows.append({"row": plan.name, "note": f"peer row not run: {err}"})
                print(f"{plan.name}: not run: {err}", flush=True)
                continue
        else:
            model.enable_fused_ops(plan.fused)
        velocity = eager_velocity(model, inputs, plan)
        graph_ok = False
        if plan.graph:
            try:
                velocity = graph_velocity(model, inputs, plan)
                graph_ok = True
            except RuntimeError as err:  # reported in the row, never hidden: the row then runs eagerly
                note = f"CUDA graph capture failed, row ran eagerly: {str(err).splitlines()[0][:300]}"
                print(note, file=sys.stderr, flush=True)
                sync(device)
        measure = args.loops == "all" or (
            args.loops == "final" and plan.name in (final_row, BF16_TURBO, *FP8_TURBO)
        )
        same = previous is not None and (previous.fused, previous.graph, previous.peer, plan.peer) == (
            plan.fused, plan.graph, False, False
        ) and previous.name in outs  # fmt: skip
        try:
            row, out, lat = time_row(
                plan, velocity, inputs, args=args, device=device, sigma_max=sigma_max, measure_loop=measure,
                same_as=(rows[-1], outs[previous.name]) if same else None,
            )  # fmt: skip
        except (RuntimeError, AssertionError) as err:
            if not plan.peer:
                raise
            # The official code asserts on its inputs and its kernels may fail: the row says so.
            rows.append({"row": plan.name, "note": f"peer row failed: {type(err).__name__}: {err}"[:400]})
            print(rows[-1]["note"], flush=True)
            break
        if same:
            row["fwd_from"] = previous.name
        row["graph"] = graph_ok
        row["text_cache"] = uses_text_cache(plan)
        row["context_rows"] = inputs.row_context(plan).shape[1]
        if note:
            row["note"] = note
        latent = lat if lat is not None else latent
        rows.append(row)
        outs[plan.name] = out
        previous = plan
        del velocity
    return rows, outs, latent, weights


def make_plans(device: torch.device, peer: bool) -> list[RowPlan]:
    cuda = device.type == "cuda"
    sparse = "sagesla" if cuda else "sla"  # SageSLA's kernels are CUDA-only
    plans = [
        RowPlan("baseline", "sdpa", None, False, False, True, None),
        RowPlan("+rCM", "sdpa", None, False, False, False, "baseline"),
        RowPlan("+SLA", "sla", None, False, False, False, "+rCM"),
    ]
    if cuda:
        plans.append(RowPlan("+SageSLA", "sagesla", None, False, False, False, "+SLA"))
    plans += [
        RowPlan("+W8A8", sparse, "int8", False, False, False, plans[-1].name),
        RowPlan("+fused", sparse, "int8", True, False, False, "+W8A8"),
    ]
    if cuda:
        plans.append(RowPlan("+graph", sparse, "int8", True, True, False, "+fused"))
    # The Turbo path with bf16 linears: where the INT8 GEMM does not beat cuBLAS bf16 (small widths), the
    # fastest configuration drops W8A8 and keeps the rest.
    plans.append(RowPlan(BF16_TURBO, sparse, None, True, cuda, False, plans[-1].name))
    # FP8 row-wise W8A8: on GPUs with FP8 tensor cores; on the CPU its references run (the --quick check).
    plans.append(RowPlan(FP8_TURBO[0], sparse, "fp8row", True, cuda, False, BF16_TURBO))
    if cuda:
        plans.append(RowPlan(FP8_TURBO[1], sparse, "fp8row-fast", True, True, False, FP8_TURBO[0]))
    plans.append(RowPlan("ours@peer", "sla", "int8", True, False, False, "+SLA"))
    if peer:
        plans.append(RowPlan("peer", "sla", "int8", False, False, False, "ours@peer", peer=True))
    return plans


# ---------------------------------------------------------------------------------------------------------


def text_keys(row: dict, cfg: WanDiTConfig) -> int:
    """The cross-attention's keys in a row's forward: the context's rows plus the padding's stand-ins."""
    rows = row.get("context_rows", cfg.text_len)
    return rows + len(padding_biases(rows, cfg.text_len, torch.bfloat16))


def roofline_columns(
    row: dict, cfg: WanDiTConfig, tokens: int, args: argparse.Namespace, ceilings: dict, device
) -> dict:
    attn, topk = row["attention"], args.sla_topk
    blocks = (args.sagesla_blocks or default_blocks(device)) if attn == "sagesla" else (128, 64)
    keys = text_keys(row, cfg)
    cost = dit_forward_cost(
        dim=cfg.dim, ffn_dim=cfg.ffn_dim, num_heads=cfg.num_heads, num_layers=cfg.num_layers, tokens=tokens,
        text_len=keys, text_dim=cfg.text_dim, patch_in=cfg.in_dim * math.prod(cfg.patch_size),
        patch_out=cfg.out_dim * math.prod(cfg.patch_size), attention=attn,
        topk=topk if attn != "sdpa" else 1.0, block_q=blocks[0], block_k=blocks[1],
        gemm=QUANT_MODES[row["gemm"]][1] if row["gemm"] in QUANT_MODES else "bf16", freq_dim=cfg.freq_dim,
        text_cached=bool(row.get("text_cache")),
    )  # fmt: skip
    floor = floor_seconds(cost, ceilings)
    return {
        "gemm_tflop": cost.gemm_flops / 1e12, "attn_tflop": cost.attention_flops / 1e12,
        "attn_dense_tflop": cost.attention_dense_flops / 1e12, "gbytes": cost.bytes / 1e9,
        "floor_ms": floor * 1e3, "x_floor": row["fwd_ms"] / (floor * 1e3), "text_keys": keys,
    }  # fmt: skip


def parse_blocks(text: str) -> tuple[int, int]:
    """'BQ,BK' -> (BQ, BK), each 16, 32, 64 or 128."""
    try:
        blocks = tuple(int(part) for part in text.split(","))
    except ValueError:
        blocks = ()
    if len(blocks) != 2 or any(b not in (16, 32, 64, 128) for b in blocks):
        raise argparse.ArgumentTypeError(
            f"expected BQ,BK with each 16, 32, 64 or 128 (got {text!r}), e.g. 128,64"
        )
    return blocks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser)
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument(
        "--sagesla-blocks", type=parse_blocks, default=None, metavar="BQ,BK",
        help="SageSLA's (query, key) block sizes, e.g. 128,64 (default: the device's official ones)",
    )  # fmt: skip
    parser.add_argument(
        "--reps", type=int, default=5, help="timed forwards per Turbo row (after one warm-up)"
    )
    parser.add_argument("--base-reps", type=int, default=None, help="timed sdpa forwards (default: --reps)")
    parser.add_argument(
        "--loops", choices=["all", "final", "none"], default="all",
        help="which Turbo rows time the whole rCM loop (else 4 x fwd, marked extrapolated); final = +graph",
    )  # fmt: skip
    parser.add_argument("--loop-reps", type=int, default=2, help="timed rCM sampler loops per looped row")
    parser.add_argument(
        "--stage-reps", type=int, default=2, help="timed text encodes, image encodes, decodes"
    )
    parser.add_argument("--peer", default=None, help="root of the built official sdist: adds the peer row")
    parser.add_argument("--peer-wait-file", default=None, help="file the peer build writes its exit code to")
    parser.add_argument("--peer-wait-s", type=float, default=0.0, help="seconds to wait for --peer-wait-file")
    parser.add_argument(
        "--rows", default=None,
        help="comma-separated subset of rows to run (baseline always included), e.g. baseline,+rCM,+graph",
    )  # fmt: skip
    parser.add_argument(
        "--vae-chunk-latents",
        type=int,
        nargs="+",
        default=[1, 4, 20],
        help="latent frames per VAE decode (and i2v image encode) chunk to time (1 = official, first); the "
        "fastest counts in total_s",
    )
    parser.add_argument(
        "--prompt-tokens", type=int, default=24,
        help="the prompt's tokens (EOS included); the engineering rows attend to them and the padding's "
        "stand-ins, so longer prompts cost them more (benchmarks/text_keys.py)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-cublaslt-workspace", action="store_true",
        help="leave CUBLASLT_WORKSPACE_SIZE as the environment has it; by default the run drops cuBLASLt's "
        "workspace as `turbodiffusion generate` does (pipelines/gemm_workspace.py)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny config on the CPU: a smoke run")
    parser.add_argument("--json", default="results/e2e.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    args.base_reps = args.reps if args.base_reps is None else args.base_reps
    if args.rows is not None:
        known = ["baseline", "+rCM", "+SLA", "+SageSLA", "+W8A8", "+fused", "+graph", BF16_TURBO, *FP8_TURBO,
                 *PEER_PAIR]  # fmt: skip
        wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in known]
        if unknown:
            parser.error(f"unknown --rows {', '.join(unknown)}; choose from {', '.join(known)}")
        args.rows = ["baseline", *[r for r in wanted if r != "baseline"]]
    text_len = (QUICK_UMT5 if args.quick else UMT5_XXL).text_len
    if not 1 <= args.prompt_tokens <= text_len:
        parser.error(f"--prompt-tokens must be 1 to the text encoder's {text_len} (got {args.prompt_tokens})")
    for name in ("reps", "base_reps", "loop_reps", "stage_reps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.keep_cublaslt_workspace:
        skip_cublaslt_workspace()  # before the ceilings' GEMMs: PyTorch reads it once, at the first use
    quick = args.quick
    device = benchmark_device(quick)
    preset = dit_preset(args.preset)
    i2v = preset.model_type == "i2v"
    shape = dit_shape(preset, args.resolution, args.frames, QUICK_DIT if quick else None)
    cfg, lat, tokens = shape.cfg, shape.latent, shape.tokens
    frames, height, width = shape.frames, shape.height, shape.width
    vae_cfg, umt5 = (BUILTIN_VAE, QUICK_UMT5) if quick else (WAN21_VAE, UMT5_XXL)
    sigma_max = SIGMA_MAX_I2V if i2v else SIGMA_MAX_T2V
    name = f"{args.preset} {args.resolution}" + (" (quick: tiny config)" if quick else "")
    print(f"{name}: {frames}x{height}x{width}, latent {lat}, L={tokens} tokens, {device}", flush=True)

    ceiling_rates: list[dict] = []
    ceilings = cpu_ceilings() if quick else measure_ceilings("cuda", rates=ceiling_rates)
    print("ceilings:", {k: round(v, 1) for k, v in ceilings.items()}, flush=True)
    for r in ceiling_rates:
        print(f"  {r['ceiling']} at {'x'.join(map(str, r['shape']))}: {r['rate']:.1f}", flush=True)
    sync_probe = None
    if device.type == "cuda":  # the detector must see a known sync, or its zeros mean nothing
        with count_host_syncs(device) as probe:
            torch.ones(1, device=device).item()
        sync_probe = probe.count
        print(f"host-sync detector probe: {sync_probe} sync(s) seen for one .item()", flush=True)

    context, trimmed, text_row = text_stage(umt5, device, args.stage_reps, args.prompt_tokens)
    stages = [text_row]
    context = context[:, : cfg.text_len, : cfg.text_dim].contiguous()  # --quick: narrower than umT5's width
    trimmed = trimmed[:, : cfg.text_len, : cfg.text_dim].contiguous()
    y = None
    if i2v:
        y, encode_row = encode_stage(
            vae_cfg, frames, height, width, device, args.stage_reps, tuple(args.vae_chunk_latents)
        )
        stages.append(encode_row)
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(lat, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    inputs = Inputs(x, t, context, trimmed, None if y is None else y.to(torch.bfloat16))

    plans = [
        p for p in make_plans(device, peer=args.peer is not None) if args.rows is None or p.name in args.rows
    ]
    env = environment()

    def save(complete: bool) -> None:
        """Write what is measured so far (after every model, so a run cut short still leaves its rows)."""
        done = stages + ([decode_row] if decode_row is not None and decode_row not in stages else [])
        write_json(
            args.json,
            {
                "env": env, "args": vars(args), "preset": args.preset, "complete": complete,
                "shape": {"latent": lat, "tokens": tokens, "frames": frames, "height": height, "width": width},
                "ceilings": ceilings, "ceiling_rates": ceiling_rates, "host_sync_probe": sync_probe,
                "rows": rows, "stages": done, "notes": notes,
            },
        )  # fmt: skip

    notes = [
        "baseline diffusion_s extrapolated: 50 steps x 2 (CFG) x the measured per-forward median",
        "rows with how='loop' time the whole rCM sampler loop; 'N x fwd' rows are extrapolated",
        "total_s = text + (i2v image encode) + diffusion + decode, each stage timed with its model alone",
        "text: engineering rows (text_cache) encode and attend to the context trimmed as the pipeline trims "
        "it (context_rows; the DiT attends to the cut padding as weighted keys), the rows before them all "
        "text_len rows (the text stage's s_full)",
        "roofline floor: benchmarks/roofline.py at the ceilings measured in this run",
    ]
    if i2v:
        notes.append(
            "i2v: one expert built and timed; peak_2x_gib adds the second expert's weights (same shape)"
        )
    final_row = "+graph" if device.type == "cuda" else "+fused"
    rows: list[dict] = []
    outs: dict[str, Tensor] = {}
    latent = None
    decode_row = None

    def decode_latest() -> dict:
        """The decode stage on the latest sampled latent (the shared input before any row has sampled)."""
        source = latent if latent is not None else x.float()
        return decode_stage(
            vae_cfg, source, device, args.stage_reps, tuple(args.vae_chunk_latents), ceilings["bf16_tflops"]
        )

    for group in group_plans(plans):
        if group[0].name in PEER_PAIR and decode_row is None:
            decode_row = decode_latest()
        group_rows, group_outs, lat_out, weights = run_group(
            group, cfg, inputs, args=args, device=device, sigma_max=sigma_max, final_row=final_row
        )
        for row in group_rows:
            if "fwd_ms" not in row:  # a row that could not run (the peer): kept, with its reason
                rows.append(row)
                continue
            plan = next(p for p in group if p.name == row["row"])
            row["vs"] = plan.vs
            known = {**outs, **group_outs}
            row["rel_l2"] = rel_l2(group_outs[plan.name], known[plan.vs]) if plan.vs in known else None
            row["weights_gib"] = weights
            row.update(roofline_columns(row, cfg, tokens, args, ceilings, device))
            rows.append(row)
            print(
                f"{row['row']}: fwd {row['fwd_ms']:.1f} ms, diffusion {row['diffusion_s']:.3f} s ({row['how']}), "
                f"x floor {row['x_floor']:.2f}, peak {row['peak_gib'] or 0:.1f} GiB",
                flush=True,
            )
        outs.update(group_outs)
        latent = lat_out if lat_out is not None else latent
        save(complete=False)
    outs.clear()

    if decode_row is None:
        decode_row = decode_latest()
    stages.append(decode_row)
    other_s = sum(s["s"] for s in stages)
    full_text_extra = text_row["s_full"] - text_row["s"]  # rows on the full context encode all of it
    timed = [r for r in rows if "fwd_ms" in r]
    base = timed[0]
    for row in timed:
        row["total_s"] = other_s + row["diffusion_s"] + (0.0 if row.get("text_cache") else full_text_extra)
    for row in timed:
        row["speedup"] = base["diffusion_s"] / row["diffusion_s"]
        row["e2e_speedup"] = base["total_s"] / row["total_s"]
        if i2v and row["peak_gib"] is not None:  # the second expert, resident as in the pipeline
            row["peak_2x_gib"] = row["peak_gib"] + row["weights_gib"]
    print_table(rows, COLUMNS)
    print_table(stages, ["stage", "first_call_s", "s", "peak_gib", "tflop", "floor_s", "x_floor"])
    print(
        "how: 'loop' = the rCM sampler loop timed whole; 'N x fwd' = N x the per-forward median (extrapolated)"
    )
    save(complete=True)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
