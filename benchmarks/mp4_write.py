"""Writing the mp4: ``write_mp4``'s encoder threading against PyAV's default (slice threads only), one run.

    PYTHONPATH=. python benchmarks/mp4_write.py --resolution 720p --json results/mp4_write.json
    PYTHONPATH=. python benchmarks/mp4_write.py --resolution 480p --frames 9 --reps 1 --json /tmp/mp4.json   # smoke

``generate`` ends by encoding the video on the CPU (H.264, crf 18). The frames are smooth synthetic motion
(gradients that drift, like a generated clip rather than noise, which x264 would spend far longer on), the
same for every setting. Each ``thread_type`` is timed ``--reps`` times, alternated; the table gives the
median seconds and each setting's time over SLICE's (PyAV's default). Needs PyAV (``.[video]``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import environment, print_table, write_json

from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.pipelines.video_io import write_mp4

THREAD_TYPES = ("SLICE", "FRAME", "AUTO")


def smooth_frames(frames: int, height: int, width: int) -> np.ndarray:
    """uint8 [frames, height, width, 3]: three drifting sinusoidal gradients."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        channels = (
            np.sin(6 * x + 0.1 * t + 3 * y),
            np.cos(4 * y - 0.05 * t + x),
            np.sin(3 * (x + y) + 0.07 * t),
        )
        video[t] = ((np.stack(channels, -1) + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="720p")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", default="results/mp4_write.json")
    args = parser.parse_args()
    width, height = RESOLUTIONS[args.resolution]
    video = smooth_frames(args.frames, height, width)
    times: dict[str, list[float]] = {t: [] for t in THREAD_TYPES}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.reps):
            for thread_type in THREAD_TYPES:
                path = Path(folder) / f"{thread_type}.mp4"
                start = time.perf_counter()
                write_mp4(video, path, thread_type=thread_type)
                times[thread_type].append(time.perf_counter() - start)
                sizes[thread_type] = path.stat().st_size
    base = statistics.median(times["SLICE"])
    rows = [
        {"thread_type": t, "s": statistics.median(times[t]), "vs_slice": statistics.median(times[t]) / base,
         "bytes": sizes[t]}
        for t in THREAD_TYPES
    ]  # fmt: skip
    print(f"{args.frames} frames at {width}x{height}, {os.cpu_count()} CPUs")
    print_table(rows, ["thread_type", "s", "vs_slice", "bytes"])
    write_json(args.json, {"env": environment(), "args": vars(args), "cpus": os.cpu_count(), "rows": rows})


if __name__ == "__main__":
    main()
