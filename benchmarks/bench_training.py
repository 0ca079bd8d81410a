"""Throughput and peak memory of one training step of each kind (flow, SLA, rCM sCM/DMD/critic).

Claim measured: tokens/s (latent tokens of the batch per second of one optimizer step, forward +
backward + AdamW) and peak GPU memory of each step kind, at a small and a large shape, on the 1.3B
architecture with random weights (throughput does not depend on the weights).

    PYTHONPATH=. python benchmarks/bench_training.py --json results/training.json
    PYTHONPATH=. python benchmarks/bench_training.py --quick        # CPU smoke run on a tiny model

Before timing, each shape checks the JVP attention (the rCM student's) against SDPA on inputs of the
timed token count: a fast wrong answer fails the run. Steps are timed with CUDA synchronisation,
median of --reps steps after --warmup steps (a training step mutates the weights, so do_bench's
repeated calls would time a moving target no differently; we keep the loop explicit).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch
from common import environment, print_table, write_json

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.attention.jvp import attention_jvp_reference, attention_with_jvp
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.testing.compare import max_rel
from turbodiffusion.testing.tolerances import lowp_bound
from turbodiffusion.training.flow import flow_matching_loss
from turbodiffusion.training.fsdp import apply_activation_checkpointing
from turbodiffusion.training.rcm import (
    RCMLossConfig,
    dmd_loss,
    enable_jvp_attention,
    fake_score_loss,
    scm_loss,
)
from turbodiffusion.training.sla_finetune import sla_distill_loss

# name -> latent [C, F, h, w]; tokens = F * h/2 * w/2 with the (1, 2, 2) patch.
SHAPES = {"small": (16, 3, 16, 16), "large": (16, 6, 30, 52)}  # 192 and 2340 tokens
QUICK_CONFIG = WanDiTConfig(
    dim=64, ffn_dim=64, num_heads=1, num_layers=1, text_dim=16, text_len=8, freq_dim=16
)
KINDS = ("flow", "sla", "rcm-scm", "rcm-dmd", "rcm-fake")


def _check_jvp_attention(tokens: int, heads: int, head_dim: int, device: str, dtype: torch.dtype) -> float:
    """Max relative error of the student's attention (output and tangent, impl "auto": the Triton kernel
    on CUDA) against the fp32 reference on inputs of the timed size; exits when above the bf16 bound."""
    g = torch.Generator(device=device).manual_seed(0)
    qkv = [torch.randn(1, tokens, heads, head_dim, device=device, dtype=dtype, generator=g) for _ in range(6)]
    o, do = torch.func.jvp(attention_with_jvp, tuple(qkv[:3]), tuple(qkv[3:]))
    ref_o, ref_do = attention_jvp_reference(*[t.float() for t in qkv])
    err = max(max_rel(o.float(), ref_o), max_rel(do.float(), ref_do))
    if err > 2 * lowp_bound(dtype, 0.0):  # 2x the bf16 kernel floor: the tangent adds one more rounding
        raise SystemExit(
            f"JVP attention differs from the reference at {tokens} tokens: max rel err {err:.3e}"
        )
    return err


def _step_fn(kind: str, nets: dict, x0, ctx, unc, opts):
    rc = RCMLossConfig(warmup_iters=0)
    shape = tuple(x0.shape)

    def step():
        gen = torch.Generator(device=x0.device).manual_seed(0)
        if kind == "flow":
            flow_matching_loss(nets["student"], x0, ctx, generator=gen).loss.backward()
            opt = opts["student"]
        elif kind == "sla":
            sla_distill_loss(nets["sla"], nets["teacher"], x0, ctx, generator=gen).loss.backward()
            opt = opts["sla"]
        elif kind == "rcm-scm":
            (
                100
                * scm_loss(
                    nets["jvp"], nets["teacher"], x0, ctx, unc, iteration=0, cfg=rc, generator=gen
                ).loss
            ).backward()
            opt = opts["jvp"]
        elif kind == "rcm-dmd":
            dmd = dmd_loss(
                nets["jvp"], nets["teacher"], nets["fake"], shape, ctx, unc, n_sim=4, cfg=rc, generator=gen
            )
            dmd.loss.backward()
            opt = opts["jvp"]
        else:
            fake_score_loss(
                nets["jvp"], nets["fake"], shape, ctx, n_sim=4, cfg=rc, generator=gen
            ).loss.backward()
            opt = opts["fake"]
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def run_shape(name: str, latent, config: WanDiTConfig, args, device: str, dtype: torch.dtype) -> list[dict]:
    tokens = latent[1] * (latent[2] // 2) * (latent[3] // 2)
    check_err = _check_jvp_attention(tokens, config.num_heads, config.head_dim, device, dtype)
    rows = []
    g = torch.Generator(device=device).manual_seed(1)
    x0 = torch.randn(args.batch, *latent, device=device, generator=g)
    ctx = torch.randn(args.batch, config.text_len, config.text_dim, device=device, generator=g)
    unc = torch.randn(args.batch, config.text_len, config.text_dim, device=device, generator=g)
    for kind in args.kinds:
        if kind == "sla" and "sla" not in BACKENDS:
            rows.append({"shape": name, "kind": kind, "note": "sla backend not registered"})
            continue
        torch.manual_seed(0)
        nets: dict = {}
        with torch.device(device):  # initialise on the GPU directly: CPU init of 1.3B params is slow
            teacher = WanDiT(config).to(dtype).requires_grad_(False).eval()
        nets["teacher"] = teacher
        if kind == "flow":
            nets["student"] = copy.deepcopy(teacher).requires_grad_(True).train()
        elif kind == "sla":
            with torch.device(device):
                sla = WanDiT(config, AttentionConfig("sla", impl=args.sla_impl)).to(dtype)
            sla.load_state_dict(teacher.state_dict(), strict=False)  # proj_l keeps its zero init
            nets["sla"] = sla.requires_grad_(True).train()
        else:
            nets["jvp"] = copy.deepcopy(teacher).requires_grad_(True).train()
            enable_jvp_attention(nets["jvp"])
            nets["fake"] = copy.deepcopy(teacher).requires_grad_(True).train()
        for key in ("student", "sla", "jvp", "fake"):
            if key in nets and args.activation_checkpointing:
                apply_activation_checkpointing(nets[key])
        opts = {
            k: torch.optim.AdamW(m.parameters(), lr=1e-6, betas=(0.0, 0.999), weight_decay=0.01)
            for k, m in nets.items()
            if k != "teacher"
        }
        step = _step_fn(kind, nets, x0, ctx, unc, opts)
        try:
            for _ in range(args.warmup):
                step()
            if device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                step()
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            ms = 1e3 * statistics.median(times)
            peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
            rows.append(
                {
                    "shape": name,
                    "kind": kind,
                    "tokens": tokens * args.batch,
                    "ms_p50": ms,
                    "ms_min": 1e3 * min(times),
                    "tokens_per_s": tokens * args.batch / (ms / 1e3),
                    "peak_gib": peak,
                    "jvp_attn_err": check_err,
                }
            )
        except torch.OutOfMemoryError:
            rows.append({"shape": name, "kind": kind, "tokens": tokens * args.batch, "note": "out of memory"})
        del nets, opts, step
        if device == "cuda":
            torch.cuda.empty_cache()
        print_table(rows[-1:], list(rows[-1].keys()))
        sys.stdout.flush()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="wan2.1-t2v-1.3b", help="model architecture (random weights)")
    parser.add_argument("--shapes", default="small,large", help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma list of {', '.join(KINDS)}")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--activation-checkpointing", action="store_true", help="block-wise recompute")
    parser.add_argument(
        "--sla-impl",
        default="auto",
        choices=["auto", "triton", "reference"],
        help="SLA student's attention impl",
    )
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: tiny model, fp32, 1 rep")
    parser.add_argument("--json", default=None, help="write the rows and environment here")
    args = parser.parse_args()
    args.kinds = args.kinds.split(",")
    if args.quick:
        device, dtype, config = "cpu", torch.float32, QUICK_CONFIG
        args.warmup, args.reps = 1, 1
        shapes = {"quick": (16, 3, 4, 6)}
    else:
        if not torch.cuda.is_available():
            raise SystemExit("the full run needs a CUDA GPU; use --quick on the CPU")
        device, dtype, config = "cuda", torch.bfloat16, dit_preset(args.preset)
        shapes = {n: SHAPES[n] for n in args.shapes.split(",")}
    rows = []
    for name, latent in shapes.items():
        rows += run_shape(name, latent, config, args, device, dtype)
    cols = ["shape", "kind", "tokens", "ms_p50", "ms_min", "tokens_per_s", "peak_gib", "jvp_attn_err", "note"]
    print()
    print_table(rows, cols)
    if args.json:
        write_json(
            args.json,
            {"environment": environment(), "preset": args.preset, "dtype": str(dtype), "rows": rows},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
