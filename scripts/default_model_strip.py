"""Write the README's picture of the shipped default model: one row per prompt, a few frames of each video,
made by the same pipeline as `turbodiffusion generate` (student, 4 rCM steps, seed 0).

    python scripts/default_model_strip.py --out docs/default_model_samples.png

Needs the "video" extra (PyAV writes the PNG).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

PROMPTS = (
    "a red circle moving right",
    "a green square moving up",
    "a yellow triangle moving left on a navy background",
    "a blue square moving right",  # a held-out combination: never captioned in training
)


def strip(videos: list[torch.Tensor], frames_per_row: int, size: int) -> np.ndarray:
    """uint8 [rows * size, frames_per_row * size, 3] from videos [T, H, W, 3] uint8 (evenly spaced frames,
    nearest-neighbour downscale by an integer step)."""
    rows = []
    for video in videos:
        t = video.shape[0]
        picks = [round(i * (t - 1) / (frames_per_row - 1)) for i in range(frames_per_row)]
        step = max(1, video.shape[1] // size)
        rows.append(torch.cat([video[i, ::step, ::step] for i in picks], dim=1))
    return np.ascontiguousarray(torch.cat(rows, dim=0).numpy())


def main() -> None:
    from turbodiffusion.pipelines import TurboPipeline
    from turbodiffusion.pipelines.presets import installed_default_preset
    from turbodiffusion.pipelines.video_io import write_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/default_model_samples.png"))
    parser.add_argument("--prompts", nargs="+", default=list(PROMPTS))
    parser.add_argument("--frames-per-row", type=int, default=6)
    parser.add_argument("--size", type=int, default=128, help="pixels per frame in the picture")
    args = parser.parse_args()
    pipe = TurboPipeline.from_pretrained(installed_default_preset(), device="cpu")
    videos = [pipe(prompt, seed=0, progress=False).frames for prompt in args.prompts]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_png(strip(videos, args.frames_per_row, args.size), args.out)
    print(f"wrote {args.out}: rows {', '.join(repr(p) for p in args.prompts)}")


if __name__ == "__main__":
    main()
