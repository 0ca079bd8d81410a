"""CPU diagnostics of a trained default-model teacher: where its samples lose the object.

    python teacher_diagnostics.py samples WORK TEACHER_FILE N GUIDANCE SHIFT OUT.png
        N held-out prompts sampled with UniPC (32 steps, CFG), each analysed, with the object's centroid
        every 4 frames, and a PNG strip (one row per prompt, frames 0, 4, ..., 32 at half size).
    python teacher_diagnostics.py samplers WORK TEACHER_FILE
        the first 8 held-out prompts with Euler at CFG 2 and UniPC at CFG 1 (same noise as ``samples``).
    python teacher_diagnostics.py x0 WORK TEACHER_FILE
        the one-step clean estimate of 6 rendered training clips noised to s = 0.5 ... 0.99.

Per-frame strings: one character per second frame, '#' when more than 400 pixels differ from the
background corner by more than 60 (RGB, 0-255), '+' above 100 pixels, '.' otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from turbodiffusion.default_model import train
from turbodiffusion.default_model.check import adherence, build_dit, sample_videos, to_frames
from turbodiffusion.eval.analyser import analyse
from turbodiffusion.pipelines import video_io
from turbodiffusion.sampling.unipc import flow_euler_sample, flow_unipc_sample, guided
from turbodiffusion.training.flow import rf_velocity

CPU = torch.device("cpu")


def object_pixels(clip: torch.Tensor) -> torch.Tensor:
    """clip uint8 [T, H, W, 3] -> [T, H, W] bool: farther than 60 from the top-left corner's colour."""
    video = clip.float()
    background = video[:, :4, :4].reshape(-1, 3).median(0).values
    return (video - background).norm(dim=-1) > 60


def presence(clip: torch.Tensor) -> str:
    counts = object_pixels(clip).flatten(1).sum(1)[::2].tolist()
    return "".join("#" if n > 400 else ("+" if n > 100 else ".") for n in counts)


def load(work: Path, teacher_file: str):
    settings = train.TrainSettings()
    bank = train.load_bank(work, CPU)
    vae = train.load_vae_work(work, CPU)
    teacher, _ = train.load_work_file(work / teacher_file, CPU)
    dit = build_dit("teacher", teacher, teacher, settings.dit, CPU, dtype=torch.float32)
    return settings, bank, vae, dit


def write_png(frames: torch.Tensor, path: str) -> None:
    rows = [torch.cat([clip[t, ::2, ::2] for t in range(0, clip.shape[0], 4)], 1) for clip in frames]
    video_io.write_png(torch.cat(rows, 0), path)


def sample_held_out(dit, vae, bank, settings, n: int, guidance: float, shift: float) -> torch.Tensor:
    """uint8 frames [n, T, H, W, 3] of the first n held-out prompts: UniPC, the teacher's step count."""
    videos = sample_videos(
        "teacher",
        dit,
        vae,
        bank.eval_embeddings[:n],
        bank.uncond[None],
        settings.latent_shape(n),
        teacher_steps=settings.teacher_sampling_steps,
        guidance=guidance,
        shift=shift,
    )
    return to_frames(videos)


def samples(work: Path, teacher_file: str, n: int, guidance: float, shift: float, out: str) -> None:
    settings, bank, vae, dit = load(work, teacher_file)
    start = time.time()
    frames = sample_held_out(dit, vae, bank, settings, n, guidance, shift)
    print(f"sampled {n} in {time.time() - start:.0f} s")
    write_png(frames, out)
    for key, clip in zip(bank.eval_keys[:n], frames):
        a = analyse(clip)
        track = []
        for mask in object_pixels(clip)[::4]:
            if mask.sum() < 20:
                track.append("  -  ")
                continue
            ys, xs = mask.nonzero(as_tuple=True)
            track.append(f"{xs.float().mean() / 256:.2f},{ys.float().mean() / 256:.2f}/{int(mask.sum())}")
        print(key, "->", a.colour, a.shape, a.direction, a.background, "|", " ".join(track))


def samplers(work: Path, teacher_file: str) -> None:
    settings, bank, vae, dit = load(work, teacher_file)
    n = 8
    ctx = bank.eval_embeddings[:n].float()
    unc = bank.uncond[None].float().expand_as(ctx)
    for name, sampler, scale in (("euler", flow_euler_sample, 2.0), ("unipc", flow_unipc_sample, 1.0)):
        noise = torch.randn(settings.latent_shape(n), generator=torch.Generator().manual_seed(0))
        velocity = guided(lambda x, t: dit(x.float(), t, ctx), lambda x, t: dit(x.float(), t, unc), scale)
        start = time.time()
        with torch.inference_mode():
            latent = sampler(
                velocity, noise, steps=32, shift=settings.teacher_shift, input_dtype=torch.float32
            )
            frames = to_frames(vae.decode(latent))
        print(
            name,
            scale,
            f"{time.time() - start:.0f}s",
            adherence(frames, bank.eval_keys[:n]),
            " ".join(presence(clip) for clip in frames),
            flush=True,
        )


def x0_by_noise(work: Path, teacher_file: str) -> None:
    settings, bank, vae, dit = load(work, teacher_file)
    gen = torch.Generator().manual_seed(5)
    ids = train._random_keys(bank, 6, gen)
    video = train.render_keys([bank.keys[i] for i in ids], settings.frames, settings, gen, CPU)
    rows = bank.rows_of_key()
    ctx = bank.embeddings[torch.stack([rows[i][0] for i in ids])]
    with torch.no_grad():
        x0 = vae.encode(video)
        for level in (0.5, 0.8, 0.9, 0.95, 0.99):
            eps = torch.randn(x0.shape, generator=gen)
            xs = (1 - level) * x0 + level * eps
            pred = xs - level * rf_velocity(dit, xs, torch.full((6,), level), ctx)
            frames = to_frames(vae.decode(pred))
            mse = ((pred - x0) ** 2).mean().item()
            print(f"s={level}: latent mse {mse:.4f} | " + " ".join(presence(clip) for clip in frames))
    print([bank.keys[i] for i in ids])


def main() -> None:
    torch.set_num_threads(2)
    command, work, teacher_file = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if command == "samples":
        n, guidance, shift, out = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
        samples(work, teacher_file, n, guidance, shift, out)
    elif command == "samplers":
        samplers(work, teacher_file)
    else:
        x0_by_noise(work, teacher_file)


if __name__ == "__main__":
    main()
