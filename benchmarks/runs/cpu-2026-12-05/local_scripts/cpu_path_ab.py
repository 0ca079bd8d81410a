"""This session's three CPU changes, each against what it replaced, interleaved in one run (2-core CPU).

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05/local_scripts/cpu_path_ab.py --json /tmp/ab.json

1. SLA's sparse branch (the reference, what SLA runs on the CPU) at the default model's shape and a longer one:
   the token-wise gather + explicit softmax (at 8f420f0) against the tree's whole-block gather + SDPA.
2. The builtin VAE's 33-frame decode with the eager RMSNorm as F.normalize (at 8f420f0) against the tree's.
3. Building all-MiniLM-L6 on meta in a fresh interpreter: torch.device("meta") (at 8f420f0) against on_meta.
4. Checked, not adopted: the same decode with 2 latent frames a call against the CPU's 1.
5. `turbodiffusion generate` in a new process (the main command, mp4 to a temporary folder), glibc's allocator
   as it comes (keep_freed_host_memory replaced by a no-op) against the command as it is: the generation's
   total (steps + decode), the process's wall time and its peak RSS.
Each row times a baseline (what 8f420f0 ran; in row 4 the CPU rule) against a candidate and gives the ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from common import environment, write_json

from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.reference import sparse_branch_reference
from turbodiffusion.models.wan import vae_blocks
from turbodiffusion.pipelines import TurboPipeline


def sparse_branch_at_8f420f0(q, k, v, lut, block_q, block_k, *, query_blocks_per_chunk=64):
    b, h, seq, d = q.shape
    mq, topk = lut.shape[-2:]
    scale = 1.0 / math.sqrt(d)
    qp = F.pad(q, (0, 0, 0, mq * block_q - seq)).view(b, h, mq, block_q, d)
    offsets = torch.arange(block_k, device=q.device)
    out = []
    for start in range(0, mq, query_blocks_per_chunk):
        blocks = lut[:, :, start : start + query_blocks_per_chunk]
        n = blocks.shape[2]
        tokens = (blocks[..., None] * block_k + offsets).reshape(b, h, n * topk * block_k)
        valid = (tokens < seq).view(b, h, n, 1, topk * block_k)
        index = tokens.clamp_max(seq - 1)[..., None].expand(-1, -1, -1, d)
        kg = torch.gather(k, 2, index).view(b, h, n, topk * block_k, d)
        vg = torch.gather(v, 2, index).view(b, h, n, topk * block_k, d)
        scores = (qp[:, :, start : start + n] @ kg.transpose(-1, -2)) * scale
        scores = scores.masked_fill(~valid, float("-inf"))
        out.append(scores.softmax(dim=-1) @ vg)
    return torch.cat(out, dim=2).reshape(b, h, mq * block_q, d)[:, :, :seq]


def norm_at_8f420f0(self, x, silu=False, out=None):
    return F.normalize(x, dim=1) * self.scale * self.gamma


def interleaved(arms: dict, reps: int) -> dict:
    """Median and min seconds of each arm, the arms taking turns rep by rep after one warm-up each."""
    for fn in arms.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(reps):
        for name, fn in arms.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {
        name: {"median_s": statistics.median(t), "min_s": min(t), "reps": reps} for name, t in times.items()
    }


def sla_rows(reps: int) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(0)
    for seq in (2304, 4680):  # the default model's 9 x 16 x 16 tokens, and 18 latent frames
        q, k, v = (torch.randn(1, 4, seq, 64, generator=g) for _ in range(3))
        sel = select_blocks(q.transpose(1, 2), k.transpose(1, 2), 128, 64, 0.5)  # builtin: top-k 0.5
        old = sparse_branch_at_8f420f0(q, k, v, sel.lut, 128, 64)
        new = sparse_branch_reference(q, k, v, sel.lut, 128, 64)
        args = (q, k, v, sel.lut, 128, 64)
        with torch.no_grad():
            res = interleaved(
                {
                    "baseline": lambda a=args: sparse_branch_at_8f420f0(*a),
                    "candidate": lambda a=args: sparse_branch_reference(*a),
                },
                reps,
            )
        rows.append(
            {
                "what": f"SLA sparse branch, L={seq}, 4 heads, D 64, top-k 0.5, fp32",
                **res,
                "speedup": res["baseline"]["median_s"] / res["candidate"]["median_s"],
                "max_rel_diff": ((old - new).abs().max() / old.abs().max()).item(),
            }
        )
    return rows


def chunk_row(pipe: TurboPipeline, reps: int) -> dict:
    vae = pipe.components.vae
    z = torch.randn(1, 16, 9, 32, 32, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    with torch.inference_mode():
        res = interleaved(
            {"1": lambda: vae.decode(z, chunk_latents=1), "2": lambda: vae.decode(z, chunk_latents=2)}, reps
        )
    return {
        "what": "builtin VAE decode, latent frames a call: 1 (the CPU's rule) against 2",
        "baseline": res["1"],
        "candidate": res["2"],
        "speedup": res["1"]["median_s"] / res["2"]["median_s"],
    }


def decode_row(pipe: TurboPipeline, reps: int) -> dict:
    vae = pipe.components.vae
    z = torch.randn(1, 16, 9, 32, 32, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    tree = vae_blocks.RMSNorm.forward

    def with_norm(forward):
        def run():
            vae_blocks.RMSNorm.forward = forward
            try:
                return vae.decode(z)
            finally:
                vae_blocks.RMSNorm.forward = tree

        return run

    with torch.inference_mode():
        same = torch.equal(with_norm(norm_at_8f420f0)(), with_norm(tree)())
        res = interleaved({"baseline": with_norm(norm_at_8f420f0), "candidate": with_norm(tree)}, reps)
    return {
        "what": "builtin VAE decode, 33 frames 256x256, bf16 channels-last, 1 latent frame a call",
        **res,
        "speedup": res["baseline"]["median_s"] / res["candidate"]["median_s"],
        "frames_equal": same,
    }


BUILD = """
import sys, time, torch
from turbodiffusion.models.meta import on_meta
from turbodiffusion.models.minilm import MiniLMEncoder
start = time.perf_counter()
with {context}:
    MiniLMEncoder()
print(time.perf_counter() - start, "torch._dynamo" in sys.modules)
"""


def meta_build_row(reps: int) -> dict:
    times: dict[str, list[float]] = {"baseline": [], "candidate": []}
    dynamo = {}
    contexts = {"baseline": 'torch.device("meta")', "candidate": "on_meta()"}
    for _ in range(reps):
        for name, context in contexts.items():
            out = subprocess.run(
                [sys.executable, "-c", BUILD.format(context=context)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            times[name].append(float(out[0]))
            dynamo[name] = out[1] == "True"
    res = {n: {"median_s": statistics.median(t), "min_s": min(t), "reps": reps} for n, t in times.items()}
    return {
        "what": "all-MiniLM-L6 built on meta in a fresh interpreter",
        **res,
        "speedup": res["baseline"]["median_s"] / res["candidate"]["median_s"],
        "imports_torch_dynamo": dynamo,
    }


GENERATE = """
import sys
from turbodiffusion.cli.__main__ import main
from turbodiffusion.pipelines import host_memory
if sys.argv[1] == "baseline":
    host_memory.keep_freed_host_memory = lambda: False
rc = main(["generate", "a red circle moving right", "-o", sys.argv[2], "--no-progress"])
import resource
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(rc)
"""


def generate_row(reps: int) -> dict:
    import re
    import tempfile

    times: dict[str, list[float]] = {"baseline": [], "candidate": []}
    walls: dict[str, list[float]] = {"baseline": [], "candidate": []}
    rss: dict[str, list[int]] = {"baseline": [], "candidate": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(reps):
            for name in times:
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", GENERATE, name, f"{folder}/{name}.mp4"],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                walls[name].append(time.perf_counter() - start)
                times[name].append(float(re.search(r"total (\d+\.\d+) s", out).group(1)))
                rss[name].append(int(re.search(r"maxrss_kb (\d+)", out).group(1)))
    res = {
        n: {"median_s": statistics.median(t), "min_s": min(t), "wall_median_s": statistics.median(walls[n]),
            "peak_rss_mb": [kb // 1024 for kb in rss[n]], "reps": reps}
        for n, t in times.items()
    }  # fmt: skip
    return {
        "what": "generate, steps + decode, glibc default against keep_freed_host_memory",
        **res,
        "speedup": res["baseline"]["median_s"] / res["candidate"]["median_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    pipe = TurboPipeline.from_pretrained("builtin", device="cpu")
    rows = [
        *sla_rows(args.reps),
        decode_row(pipe, args.reps),
        meta_build_row(args.reps),
        chunk_row(pipe, args.reps),
        generate_row(args.reps),
    ]
    for row in rows:
        print(
            f"{row['what']}: {row['baseline']['median_s'] * 1e3:.1f} -> {row['candidate']['median_s'] * 1e3:.1f} ms "
            f"median ({row['speedup']:.2f}x)"
        )
    write_json(
        args.json, {"environment": environment(), "torch_threads": torch.get_num_threads(), "rows": rows}
    )


if __name__ == "__main__":
    main()
