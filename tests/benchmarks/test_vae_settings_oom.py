"""A VAE chunking that runs out of device memory is recorded and skipped, not fatal: e2e_stages.py's encode
and decode stages (e2e.py's) and vae_decode.py.

On an 80 GB H100 the 720p decode in chunks of 20 latent frames ran out of memory and took the whole 14B-720p
table with it, and vae_decode.py's 480p run stopped the same way (h100-2026-12-05, -05b). Here the VAE's
decode and the I2V encode raise torch.OutOfMemoryError for some chunkings on the CPU; the scripts must time
the others. They import their sibling scripts, so they run in a child process with benchmarks/ on
PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..conftest import REPO

CHILD = """
import json, sys
import torch
import e2e_stages
from turbodiffusion.models.wan.vae import WanVAE
from turbodiffusion.pipelines.builtin import BUILTIN_VAE

too_big = set(json.loads(sys.argv[1]))
decode, condition = WanVAE.decode, e2e_stages.image_condition


def failing_decode(self, z, *args, chunk_latents=1, **kwargs):
    if chunk_latents in too_big:
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
    return decode(self, z, *args, chunk_latents=chunk_latents, **kwargs)


def failing_condition(vae, image, frames, *, chunk_latents=1, **kwargs):
    if chunk_latents in too_big:
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
    return condition(vae, image, frames, chunk_latents=chunk_latents, **kwargs)


WanVAE.decode = failing_decode
e2e_stages.image_condition = failing_condition
cpu = torch.device("cpu")
out = {}
if sys.argv[2] == "vae_decode":
    import vae_decode

    vae_decode.main(["--quick", "--variants", "default,channels_last", "--chunk-latents", "2", "1",
                     "--reps", "1", "--profile", "--json", sys.argv[3]])
    sys.exit()
try:
    latent = torch.randn(1, 16, 3, 4, 6)
    out["decode"] = e2e_stages.decode_stage(BUILTIN_VAE, latent, cpu, 1, (1, 2))
    out["encode"] = e2e_stages.encode_stage(BUILTIN_VAE, 9, 32, 48, cpu, 1, (1, 2))[1]
except RuntimeError as error:
    out["error"] = str(error)
print(json.dumps(out))
"""


def run_child(too_big: list[int], *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "benchmarks")]),
           "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(too_big), *args], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def run_stages(too_big: list[int]) -> dict:
    return json.loads(run_child(too_big, "stages").strip().splitlines()[-1])


def test_a_chunking_out_of_memory_is_recorded_and_the_others_timed():
    out = run_stages([2])
    decode, encode = out["decode"], out["encode"]
    assert decode["s_by_layout_chunk_latents"]["fast/2"] is None
    assert decode["s_by_layout_chunk_latents"]["plain/2"] is None
    assert decode["rel_l2_by_layout_chunk_latents"]["fast/2"] is None
    assert decode["chunk_latents"] == 1 and decode["s"] == decode["s_by_layout_chunk_latents"]["fast/1"] > 0
    assert encode["s_by_chunk_latents"] == {"1": encode["s"], "2": None}
    assert encode["chunk_latents"] == 1 and encode["s"] > 0


def test_every_chunking_out_of_memory_says_what_to_do():
    out = run_stages([1, 2])
    assert "decode" not in out
    assert "ran out of device memory" in out["error"] and "--vae-chunk-latents" in out["error"]


def test_vae_decode_records_a_setting_out_of_memory_and_runs_the_rest(tmp_path):
    out = tmp_path / "v.json"
    printed = run_child([2], "vae_decode", str(out))
    rows = {(r["variant"], r["chunk_latents"]): r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {(v, k) for v in ("default", "channels_last") for k in (1, 2)}
    for variant in ("default", "channels_last"):
        assert rows[(variant, 2)]["out_of_memory"] and rows[(variant, 2)]["s"] is None
        assert rows[(variant, 2)]["speedup"] is None
        assert rows[(variant, 1)]["s"] > 0 and rows[(variant, 1)]["rel_l2_vs_fp32"] < 5e-2
    assert "default chunk 2: out of device memory" in printed
