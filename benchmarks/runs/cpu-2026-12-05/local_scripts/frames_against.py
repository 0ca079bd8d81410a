"""The main command's frames from this tree against another checkout's (e.g. 8f420f0), each in its own process.

    git worktree add /tmp/at_8f420f0 8f420f0
    python benchmarks/runs/cpu-2026-12-05/local_scripts/frames_against.py /tmp/at_8f420f0

Both generate seed 0 of "a red circle moving right" with the default model on the CPU and save the uint8
frames; the script prints how many values differ and by how much.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import sys, numpy as np
from turbodiffusion.pipelines import TurboPipeline
out = TurboPipeline.from_pretrained("builtin", device="cpu")("a red circle moving right", seed=0, progress=False)
np.save(sys.argv[1], out.frames.numpy())
"""


def frames(tree: str | None, path: str) -> np.ndarray:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = tree  # the other checkout's package shadows the installed one
    # cwd: "-c" puts the working directory first on sys.path, which must not be a checkout either.
    cwd = os.path.dirname(path)
    subprocess.run([sys.executable, "-c", CHILD, path], env=env, cwd=cwd, check=True, capture_output=True)
    return np.load(path).astype(np.int16)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        other = frames(sys.argv[1], os.path.join(folder, "other.npy"))
        here = frames(None, os.path.join(folder, "here.npy"))
    diff = np.abs(here - other)
    print(f"{here.shape}: {100 * (diff > 0).mean():.1f}% of values differ, mean {diff.mean():.3f} levels, "
          f"{100 * (diff > 8).mean():.3f}% by more than 8, max {diff.max()}")  # fmt: skip


if __name__ == "__main__":
    main()
