"""Look at what a default-model training run produced: originals vs VAE reconstructions vs teacher samples.

    python scripts/inspect_default_model_work.py WORK_DIR out.png [--clips 2] [--samples 3]

WORK_DIR is the work folder of ``python -m turbodiffusion.default_model.train`` after its vae and teacher
stages. The PNG has one row per clip, frames 0, 8, 16, ...: first the rendered originals, then their VAE
reconstructions, then the teacher's one-step clean estimates of the noised originals at each --noise-levels
(their latent MSE is printed), then teacher samples (UniPC, CFG) for captions of the bank; the analyser's
reading of each row is printed. Runs on the CPU in about two minutes (the teacher samples dominate).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np
import torch

from turbodiffusion.default_model import train
from turbodiffusion.default_model.check import build_dit, sample_videos, to_frames
from turbodiffusion.eval.analyser import analyse
from turbodiffusion.training.flow import noisy_rf, rf_velocity


def write_png(image: np.ndarray, path: Path) -> None:
    """uint8 [H, W, 3] -> PNG through PyAV (no imaging library needed)."""
    height, width = image.shape[:2]
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def strip(frames: torch.Tensor, every: int) -> np.ndarray:
    """uint8 [B, T, H, W, 3] -> one row per clip of frames 0, every, 2 * every, ..."""
    return np.concatenate([np.concatenate(list(clip[::every].numpy()), axis=1) for clip in frames], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=int, default=2, help="rendered clips to reconstruct")
    parser.add_argument("--samples", type=int, default=3, help="teacher samples")
    parser.add_argument(
        "--noise-levels",
        type=float,
        nargs="*",
        default=[0.3, 0.6, 0.9],
        help="RF times s of the teacher's one-step estimates of the originals",
    )
    args = parser.parse_args()
    cpu = torch.device("cpu")
    settings = train.settled_guidance(train.TrainSettings(), args.work)  # the scale the run chose
    bank = train.load_bank(args.work, cpu)
    vae = train.load_vae_work(args.work, cpu)

    step = max(1, len(bank.keys) // max(1, args.clips))
    keys = [bank.keys[i] for i in range(0, step * args.clips, step)]
    video = train.render_keys(keys, settings.frames, settings, torch.Generator().manual_seed(3), cpu)
    with torch.no_grad():
        latent = vae.encode(video).float()
        recon = vae.decode(latent)
    originals, recons = to_frames(video), to_frames(recon)
    for key, frames in zip(keys, recons):
        print("reconstruction of", key, "->", analyse(frames))
    teacher, _ = train.load_work_file(args.work / train.TEACHER_WORK_FILE, cpu)
    dit = build_dit("teacher", teacher, teacher, settings.dit, cpu, torch.float32)
    denoised = []
    with torch.no_grad():
        # One-step clean estimates x0 = x_s - s v of the encoded originals with their own captions: how well
        # the teacher has learned the data at each noise level, apart from the sampler.
        context = bank.embeddings[[bank.rows_of_key()[bank.keys.index(k)][0].item() for k in keys]]
        for s in args.noise_levels:
            times = torch.full((len(keys),), s, dtype=torch.float64)
            # The same noise at every level (a fresh generator of one seed).
            x_s, _ = noisy_rf(latent, times, torch.Generator().manual_seed(0))
            x0 = x_s - s * rf_velocity(dit, x_s, times, context)
            print(f"one-step estimate at s={s}: latent MSE {(x0 - latent).pow(2).mean().item():.4f}")
            denoised.append(to_frames(vae.decode(x0)))

    rows = list(range(0, len(bank.captions), max(1, len(bank.captions) // max(1, args.samples))))[
        : args.samples
    ]
    samples = to_frames(
        sample_videos(
            "teacher",
            dit,
            vae,
            bank.embeddings[rows],
            bank.uncond[None],
            settings.latent_shape(len(rows)),
            teacher_steps=settings.teacher_sampling_steps,
            guidance=settings.guidance,
            shift=settings.teacher_shift,
        )
    )
    for row, frames in zip(rows, samples):
        print("teacher:", bank.captions[row], "->", analyse(frames))

    strips = [strip(originals, 8), strip(recons, 8), *(strip(d, 8) for d in denoised), strip(samples, 8)]
    image = np.concatenate(strips, axis=0)
    write_png(image[::2, ::2], args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
