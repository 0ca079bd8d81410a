"""x264 presets for write_mp4's encode: time, size and PSNR (decoded back) at crf 18 and lower, 81 frames of 720p.

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05/local_scripts/x264_presets.py

Two contents: mp4_write.py's smooth gradients, and a multi-scale texture panned 3 px a frame. PSNR is over
RGB after yuv420p, so chroma subsampling caps it. Each setting's time is the faster of two encodes.
"""

from __future__ import annotations

import os
import tempfile
import time

import av
import numpy as np
import torch
import torch.nn.functional as F
from mp4_write import smooth_frames


def panned_texture(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    wide = width + 3 * frames
    scene = torch.zeros(1, 3, height, wide)
    for cell, amplitude in ((64, 1.0), (16, 0.5), (4, 0.25)):
        noise = torch.rand(1, 3, height // cell + 2, wide // cell + 2, generator=g)
        scene += amplitude * F.interpolate(noise, size=(height, wide), mode="bicubic", align_corners=False)
    scene = ((scene - scene.min()) / (scene.max() - scene.min()) * 255)[0].permute(1, 2, 0).numpy()
    return np.stack([scene[:, 3 * t : 3 * t + width] for t in range(frames)]).astype(np.uint8)


def encode(video: np.ndarray, path: str, preset: str, crf: int) -> None:
    with av.open(path, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.thread_type = "AUTO"
        for image in video:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
            )
        container.mux(stream.encode())


def psnr(path: str, video: np.ndarray) -> float:
    with av.open(path) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    mse = ((decoded.astype(np.float64) - video.astype(np.float64)) ** 2).mean()
    return 10 * np.log10(255**2 / mse)


def main() -> None:
    settings = [("medium", 18), ("veryfast", 18), ("veryfast", 17), ("veryfast", 16), ("faster", 17)]
    for name, video in (
        ("panned texture", panned_texture(81, 720, 1280)),
        ("smooth", smooth_frames(81, 720, 1280)),
    ):
        with tempfile.TemporaryDirectory() as folder:
            for preset, crf in settings:
                path = os.path.join(folder, f"{preset}_{crf}.mp4")
                times = []
                for _ in range(2):
                    start = time.perf_counter()
                    encode(video, path, preset, crf)
                    times.append(time.perf_counter() - start)
                print(f"{name}: {preset} crf {crf}: {min(times):.2f} s, {os.path.getsize(path) // 1024} KiB, "
                      f"PSNR {psnr(path, video):.2f} dB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
