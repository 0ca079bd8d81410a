"""The default model on the GPU, warm: the pipeline as generate builds it (SageSLA's kernels there) against
the same weights with SLA's reference (whole-block gather + SDPA, what the CPU runs), 33 frames 256x256.

    PYTHONPATH=/tmp/site:. python benchmarks/runs/cpu-2026-12-05/device_scripts/builtin_gpu.py --json out.json

At 2,304 tokens the kernels' launches may cost more than they save; this says which path a GPU should take
for the default model. Calls alternate between the two pipelines after two warm-up calls each.
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sagesla import default_blocks
from turbodiffusion.pipelines import TurboPipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    pipes = {"kernels": TurboPipeline.from_pretrained("builtin")}
    # On a GPU the default model takes "sagesla" (pipelines.components.default_attention), whose blocks are
    # None until a call: the device's official ones. (Until h100-2026-12-05b this looked for SLAAttention
    # alone and stopped there.)
    dit = pipes["kernels"].components.dits[0]
    sla = next(m for m in dit.modules() if type(m).__name__ in ("SLAAttention", "SageSLAAttention"))
    blocks = default_blocks(next(dit.parameters()).device)
    block_q, block_k = (sla.block_q or blocks[0]), (sla.block_k or blocks[1])
    print(f"kernels: {type(sla).__name__} topk {sla.topk}, blocks ({block_q}, {block_k})", flush=True)
    reference = AttentionConfig(
        backend="sla", sla_topk=sla.topk, block_q=block_q, block_k=block_k, impl="reference"
    )
    pipes["reference"] = TurboPipeline.from_pretrained("builtin", attention=reference)
    frames = {}
    for name, pipe in pipes.items():
        for _ in range(2):
            frames[name] = pipe("a red circle moving right", seed=0, progress=False).frames
    rows: dict[str, list[dict]] = {name: [] for name in pipes}
    for rep in range(args.reps):
        for name, pipe in pipes.items():
            t = pipe(f"a blue square moving left {rep}", seed=0, progress=False).timings
            rows[name].append({"steps_s": t.sampling, "decode_s": t.decode, "total_s": t.total})
    summary = {
        name: {key: statistics.median(r[key] for r in runs) for key in ("steps_s", "decode_s", "total_s")}
        for name, runs in rows.items()
    }
    diff = (frames["kernels"].int() - frames["reference"].int()).abs()
    out = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "summary": summary,
        "rows": rows,
        "frames_max_abs_diff": int(diff.max()),
        "frames_mean_abs_diff": float(diff.float().mean()),
    }
    print(json.dumps(out["summary"], indent=1), out["frames_max_abs_diff"], out["frames_mean_abs_diff"])
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
