"""CPU test of the diagnosis: does training the teacher at high noise alone make its objects last?

    python high_noise_finetune.py WORK TEACHER_FILE STEPS LOW

Fine-tunes the teacher in float32 on times s ~ U[LOW, 1) only (batch 4, lr 1e-4, 10% caption dropout,
a pool of 64 rendered training clips), then samples the first 8 held-out prompts exactly as
``teacher_diagnostics.py samples`` does (UniPC 32 steps, CFG 2, shift 3, same noise) and prints their
per-frame object presence and adherence (before: ``teacher_diagnostics.py samples``). Only the layout-setting times train, so a
change in which frames show the object is down to them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from teacher_diagnostics import CPU, presence, sample_held_out  # the script beside this one

from turbodiffusion.default_model import train
from turbodiffusion.default_model.check import adherence, build_dit
from turbodiffusion.training.flow import noisy_rf, rf_velocity


def held_out_presence(dit, vae, bank, settings, n: int = 8) -> str:
    frames = sample_held_out(dit.eval(), vae, bank, settings, n, 2.0, settings.teacher_shift)
    return f"{adherence(frames, bank.eval_keys[:n])} " + " ".join(presence(clip) for clip in frames)


def main() -> None:
    torch.set_num_threads(2)
    work, teacher_file, steps, low = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    settings = train.TrainSettings()
    bank = train.load_bank(work, CPU)
    vae = train.load_vae_work(work, CPU)
    teacher, _ = train.load_work_file(work / teacher_file, CPU)
    dit = build_dit("teacher", teacher, teacher, settings.dit, CPU, dtype=torch.float32)
    start = time.time()
    pool = train.build_pool(
        vae, bank, train.dataclasses.replace(settings, pool_size=64), torch.Generator().manual_seed(9), CPU
    )
    print(f"pool of 64 clips in {time.time() - start:.0f} s", flush=True)
    rows_of_key = bank.rows_of_key()
    gen = torch.Generator().manual_seed(10)
    dit.train().requires_grad_(True)
    opt = torch.optim.AdamW(dit.parameters(), lr=1e-4, weight_decay=0.01)
    start = time.time()
    for step in range(steps):
        x0, ctx = train.draw_batch(pool, bank, rows_of_key, 4, gen, dropout=settings.caption_dropout)
        s = low + (1.0 - low) * torch.rand(4, generator=gen, dtype=torch.float64)
        x_s, eps = noisy_rf(x0, s, gen)
        loss = ((rf_velocity(dit, x_s, s, ctx) - (eps - x0)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dit.parameters(), 1.0)
        opt.step()
        if step % 25 == 0:
            print(f"step {step} ({time.time() - start:.0f} s): loss {loss.item():.4f}", flush=True)
    print("after:", held_out_presence(dit, vae, bank, settings), flush=True)


if __name__ == "__main__":
    main()
