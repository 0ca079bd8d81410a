"""``turbodiffusion train {flow,sla,rcm} --config FILE``: run or resume a training job.

Single process: ``turbodiffusion train flow --config run.toml``. Many: ``torchrun --nproc-per-node 8
-m turbodiffusion.cli train rcm --config run.toml`` (the process group is initialised from torchrun's
environment; every network is then sharded with FSDP2 over all ranks). Re-running the same command
resumes from the newest checkpoint in ``run.output_dir/checkpoints``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["flow", "sla", "rcm"], help="what to train (see docs §4-5)")
    parser.add_argument("--config", required=True, help="training config (.toml, .yaml or .yml)")
    parser.add_argument("--max-steps", type=int, default=None, help="override run.max_steps")
    parser.add_argument("--output-dir", default=None, help="override run.output_dir")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from ..training.config import load_config
    from ..training.loop import train
    from ..training.process_group import destroy_process_group

    cfg = load_config(args.config, kind=args.kind)
    overrides = {}
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    if args.output_dir is not None:
        overrides["output_dir"] = args.output_dir
    if args.no_progress:
        overrides["progress"] = False
    if overrides:
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, **overrides))
    import torch

    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ  # set by torchrun
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    logger.info("training on %s", device)
    if launched and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend)
        logger.info("process group: %s, rank %d of %d", backend, dist.get_rank(), dist.get_world_size())
        if dist.get_rank() != 0:
            logging.getLogger().setLevel(logging.WARNING)  # non-zero ranks log warnings and errors only
    try:
        records = train(cfg, device=device)
    finally:
        if launched:
            destroy_process_group()  # with the collection that keeps gloo from aborting at exit
    if records and (not launched or int(os.environ["RANK"]) == 0):
        last = records[-1]
        losses = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k.startswith("loss"))
        print(f"step {last['step']}: {losses}; {last['tokens_per_s']:.0f} tokens/s")
        print(os.path.join(cfg.run.output_dir, "final.safetensors"))
    return 0
