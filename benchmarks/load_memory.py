"""Peak resident memory of building a preset on the meta device and of loading a checkpoint from disk.

    python benchmarks/load_memory.py [--preset wan2.1-t2v-14b] [--load-preset wan2.1-t2v-1.3b] [--json PATH]

Each measurement runs in a fresh subprocess and reports its peak RSS (ru_maxrss). The load test first writes
a synthetic bf16 checkpoint with the preset's real names and shapes (random values) in the official Wan
layout (Conv3d patch embedding), then loads it with ``load_dit(..., dtype=bfloat16)``; the peak is compared
with the file size: a loader that held the model twice would peak near twice the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import environment, print_table, write_json

BUILD = """
import resource, torch
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.dit import WanDiT
with torch.device("meta"):
    m = WanDiT(dit_preset({preset!r}))
n = sum(p.numel() for p in m.parameters())
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

WRITE = """
import torch
from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.dit import WanDiT
cfg = dit_preset({preset!r})
with torch.device("meta"):
    m = WanDiT(cfg)
g = torch.Generator().manual_seed(0)
sd = {{}}
for k, v in m.state_dict().items():
    t = torch.randn(v.shape, generator=g, dtype=torch.float32).to(torch.bfloat16)
    if k == "patch_embedding.weight":
        t = t.reshape(cfg.dim, cfg.in_dim, 1, 2, 2)  # official Conv3d layout
    sd[k] = t
save_safetensors(sd, {path!r})
"""

LOAD = """
import resource, torch
from turbodiffusion.models.loading import load_dit
m = load_dit({path!r}, {preset!r}, dtype=torch.bfloat16)
n = sum(p.numel() for p in m.parameters())
if {touch!r}:  # read every weight, so memory-mapped pages become resident
    total = sum(float(p.float().sum()) for p in m.parameters())
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BASELINE = """
import resource, torch, turbodiffusion.models.loading
print(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(code: str) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    n, kib = out.split()[-2:]
    return int(n), int(kib) / 1024**2  # GiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wan2.1-t2v-14b", help="preset built on the meta device")
    parser.add_argument(
        "--load-preset", default="wan2.1-t2v-1.3b", help="preset written and loaded from disk"
    )
    parser.add_argument("--json", default="results/load_memory.json")
    args = parser.parse_args()

    rows = []
    _, base = run(BASELINE)
    rows.append({"case": "import torch + turbodiffusion", "params": 0, "peak_rss_gib": base})
    n, peak = run(BUILD.format(preset=args.preset))
    rows.append({"case": f"build {args.preset} on meta", "params": n, "peak_rss_gib": peak})
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "dit.safetensors")
        run(WRITE.format(preset=args.load_preset, path=path) + "\nprint(0, 0)")
        size = Path(path).stat().st_size / 1024**3
        for touch in (False, True):
            n, peak = run(LOAD.format(preset=args.load_preset, path=path, touch=touch))
            case = f"load {args.load_preset} bf16 from disk" + (" + read every weight" if touch else "")
            rows.append({"case": case, "params": n, "peak_rss_gib": peak, "file_gib": size})
    print_table(rows, ["case", "params", "peak_rss_gib", "file_gib"])
    write_json(args.json, {"env": environment(), "rows": rows})
    print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
