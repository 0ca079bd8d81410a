"""``python -m turbodiffusion.eval.synthetic``: score the default model on held-out prompts of the synthetic
world and print the issue's table: teacher (many steps, guidance) vs rCM student (4 steps) vs student + SLA
vs student + SLA + W8A8, each with adherence %, per-attribute %, mean pixel error to the teacher's video
(same prompt and seed) and seconds per video on the device used.

    python -m turbodiffusion.eval.synthetic --device cuda --json results/eval_synthetic.json
    python -m turbodiffusion.eval.synthetic --model-dir runs/default --configs teacher,student+sla+w8a8

This module is the command (argument parsing, loading, printing, JSON); the scoring lives in harness.py
and analyser.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from ..models.checkpoint_io import write_text_atomic
from .harness import (
    CONFIG_NAMES,
    REFERENCE,
    EvalConfig,
    Runner,
    evaluate,
    format_table,
    held_out_prompts,
    result_record,
    standard_configs,
    summarise,
)

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m turbodiffusion.eval.synthetic",
        description="Score the default model's configurations on held-out synthetic-world prompts.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--prompts", type=int, default=16, help="number of held-out prompts (half name a background)"
    )
    parser.add_argument(
        "--device", default=None, help="where the models run (default: cuda if available, else cpu)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the table and every video's scores here"
    )
    parser.add_argument(
        "--configs",
        default=",".join(CONFIG_NAMES),
        help=f"comma-separated subset of {', '.join(CONFIG_NAMES)} (pixel error needs {REFERENCE})",
    )
    parser.add_argument("--teacher-steps", type=int, default=32, help="teacher's unipc steps")
    parser.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="teacher's classifier-free guidance scale (default: the model's, from its config.json)",
    )
    parser.add_argument("--student-steps", type=int, default=4, help="student's rCM steps")
    parser.add_argument(
        "--seed", type=int, default=0, help="prompt i uses seed SEED + i in every configuration"
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="a default-model folder (config.json + weights) to evaluate instead of the shipped one",
    )
    parser.add_argument("--teacher-model", default="builtin-teacher", help="preset of the teacher row")
    parser.add_argument("--student-model", default="builtin", help="preset of the student rows")
    parser.add_argument(
        "--num-frames", type=int, default=None, help="frames per video (default: the model's)"
    )
    parser.add_argument("--height", type=int, default=None, help="video height (default: the model's)")
    parser.add_argument("--width", type=int, default=None, help="video width (default: the model's)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="network dtype")
    parser.add_argument("--warmup", type=int, default=1, help="untimed videos per configuration first")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    return parser


def select_configs(args: argparse.Namespace) -> dict[str, EvalConfig]:
    """The configurations named by --configs, in CONFIG_NAMES order; raises ValueError on unknown names."""
    configs = standard_configs(
        teacher_steps=args.teacher_steps,
        guidance=args.guidance,
        student_steps=args.student_steps,
        teacher_model=args.teacher_model,
        student_model=args.student_model,
    )
    wanted = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in configs]
    if unknown or not wanted:
        raise ValueError(
            f"--configs: unknown or empty {unknown or wanted}; choose from {', '.join(CONFIG_NAMES)}"
        )
    return {name: cfg for name, cfg in configs.items() if name in wanted}


def pipeline_runner(cfg: EvalConfig, args: argparse.Namespace, device: torch.device) -> Runner:
    """Load ``cfg``'s pipeline and return (prompt, seed) -> frames [T, H, W, 3] uint8."""
    # Imported here: the pipelines pull in the model code, which the scoring alone does not need.
    from ..pipelines.pipeline import TurboPipeline

    checkpoint_dir = args.model_dir if cfg.model in ("builtin", "builtin-teacher") else None
    pipe = TurboPipeline.from_pretrained(
        cfg.model,
        checkpoint_dir=checkpoint_dir,
        device=device,
        attention=cfg.attention,
        quant=cfg.quant,
        dtype=getattr(torch, args.dtype),
    )

    def run(prompt: str, seed: int) -> torch.Tensor:
        output = pipe(
            prompt,
            num_frames=args.num_frames,
            height=args.height,
            width=args.width,
            steps=cfg.steps,
            seed=seed,
            sampler=cfg.sampler,
            guidance=cfg.guidance,
            progress=False,
        )
        return output.frames

    return run


def environment(device: torch.device) -> dict:
    """Device, versions, git commit (+ dirty flag), command line and UTC time, for the JSON header."""
    env: dict = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "device_type": device.type,
        "cpu_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "command": " ".join([sys.executable, "-m", "turbodiffusion.eval.synthetic", *sys.argv[1:]]),
        "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True)
        env["git_commit"], env["git_dirty"] = head.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        env["git_commit"], env["git_dirty"] = None, None  # not a checkout, or no git
    return env


def write_json(path: Path, payload: dict) -> None:
    """Atomic: a temporary file in the same folder, then os.replace."""
    write_text_atomic(path, json.dumps(payload, indent=2))


def run(args: argparse.Namespace) -> int:
    configs = select_configs(args)
    prompts = held_out_prompts(args.prompts)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    runners = {name: (lambda cfg=cfg: pipeline_runner(cfg, args, device)) for name, cfg in configs.items()}
    results = evaluate(runners, prompts, seed=args.seed, warmup=args.warmup, progress=not args.no_progress)
    rows = summarise(results)
    print(format_table(rows, device.type))
    if args.json is not None:
        payload = {
            "environment": environment(device),
            "prompts": prompts,
            "configs": [asdict(cfg) for cfg in configs.values()],
            "summary": [asdict(row) for row in rows],
            "videos": [result_record(r) for r in results],
        }
        write_json(args.json, payload)
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return run(args)
    except (ValueError, ImportError, FileNotFoundError, OSError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
