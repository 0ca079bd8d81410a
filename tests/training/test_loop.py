"""The training loop end to end on a tiny cache: each kind runs, and kill-and-resume continues exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from turbodiffusion.attention import BACKENDS
from turbodiffusion.training.cache import build_cache
from turbodiffusion.training.config import config_from_dict
from turbodiffusion.training.data import VideoCaption
from turbodiffusion.training.loop import train
from turbodiffusion.training.metrics import read_jsonl

from .tiny import LATENT, TINY_DICT

REPO = Path(__file__).resolve().parents[2]


def make_cache(root: Path, n: int = 6) -> Path:
    g = torch.Generator().manual_seed(0)
    items = [VideoCaption(f"s{i}", root / f"{i}.mp4", f"caption {i}") for i in range(n)]
    build_cache(
        items,
        root / "cache",
        encode_video=lambda item: torch.randn(LATENT, generator=g),
        encode_text=lambda text: torch.randn(5, 16, generator=g),
        uncond_text="",
    )
    return root / "cache"


def tiny_config(kind: str, cache: Path, out: Path, **run) -> dict:
    return {
        "kind": kind,
        "data": {"cache_dir": str(cache), "batch_size": 2, "seed": 1},
        "model": {"dit": dict(TINY_DICT), "init_seed": 3},
        "optim": {"lr": 1e-3, "warmup_steps": 2},
        "run": {"output_dir": str(out), "max_steps": 5, "checkpoint_every": 2, "progress": False, **run},
        "rcm": {"loss": {"warmup_iters": 1}, "fake_lr": 1e-3, "critic_freq": 2},
    }


_KILLED_RUN = """
import os, signal, sys
from turbodiffusion.training.config import config_from_dict
from turbodiffusion.training.loop import train
cfg = config_from_dict({cfg!r})
def on_step(step, record):
    if step == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no final checkpoint: a real crash
train(cfg, on_step=on_step)
"""


def test_kill_and_resume_continues_with_the_same_losses(tmp_path):
    cache = make_cache(tmp_path)
    straight = train(config_from_dict(tiny_config("flow", cache, tmp_path / "straight")))
    assert [r["step"] for r in straight] == [1, 2, 3, 4, 5]

    cfg = tiny_config("flow", cache, tmp_path / "killed")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN.format(cfg=cfg, kill_at=3)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    logged = read_jsonl(tmp_path / "killed" / "log.jsonl")
    assert [r["step"] for r in logged] == [1, 2, 3]  # step 3 ran but its checkpoint (at 4) never came

    resumed = train(config_from_dict(cfg))
    assert [r["step"] for r in resumed] == [3, 4, 5]  # restarted from the step-2 checkpoint
    # Same weights, optimizer state, data order and noise: the losses are bit-identical.
    assert [r["loss"] for r in resumed] == [r["loss"] for r in straight[2:]]
    assert logged[2]["loss"] == straight[2]["loss"]
    # The EMA travels in the checkpoint too: the exported students are identical.
    from turbodiffusion.models.checkpoint_io import CheckpointReader

    a, b = (
        CheckpointReader(tmp_path / "killed" / "final.safetensors"),
        CheckpointReader(tmp_path / "straight" / "final.safetensors"),
    )
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_rcm_loop_alternates_student_and_critic(tmp_path):
    cache = make_cache(tmp_path)
    records = train(
        config_from_dict(tiny_config("rcm", cache, tmp_path / "rcm", max_steps=4, checkpoint_every=4))
    )
    # Step 0 is in the tangent warm-up (sCM only); then student (step 2) and critic (steps 1, 3) alternate.
    assert [sorted(k for k in r if k.startswith("loss")) for r in records] == [
        ["loss_scm"],
        ["loss_fake"],
        ["loss_dmd", "loss_scm"],
        ["loss_fake"],
    ]
    assert all(
        torch.isfinite(torch.tensor([v for k, v in r.items() if k.startswith("loss")])).all() for r in records
    )

    from turbodiffusion.models.loading import load_dit

    student = load_dit(tmp_path / "rcm" / "final.safetensors", dtype=torch.float32)
    assert student.config.dim == TINY_DICT["dim"]


@pytest.mark.skipif("sla" not in BACKENDS, reason="the SLA attention backend is not registered yet")
def test_sla_loop_runs_and_trains_proj_l(tmp_path):
    cache = make_cache(tmp_path)
    cfg = tiny_config(
        "sla", cache, tmp_path / "sla", max_steps=2, checkpoint_every=2, activation_checkpointing=True
    )
    cfg["sla"] = {"topk": 0.5}
    cfg["model"]["dit"].update(dim=64, num_heads=1)  # SLA needs head_dim 64 or 128
    records = train(config_from_dict(cfg))
    assert len(records) == 2 and all(r["loss"] >= 0 for r in records)
    from turbodiffusion.models.checkpoint_io import CheckpointReader

    reader = CheckpointReader(tmp_path / "sla" / "final.safetensors")
    proj = [k for k in reader if ".proj_l." in k and k.endswith("weight")]
    assert proj and any(reader[k].abs().sum() > 0 for k in proj)  # started at zero, moved by training
