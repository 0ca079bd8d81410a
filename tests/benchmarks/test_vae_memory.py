"""benchmarks/vae_memory.py: the meta-device counts of the VAE's encode and decode peaks, by chunking."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_counts_grow_by_one_step_a_latent_frame(tmp_path):
    out = tmp_path / "vae_memory.json"
    result = run_benchmark(tmp_path, "vae_memory", "--resolution", "480p", "--frames", "17",
                           "--chunk-latents", "1", "2", "4", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["op"], r["chunk_latents"]) for r in rows] == [
        (op, c) for op in ("encode", "encode-i2v", "decode") for c in (1, 2, 4)
    ]
    # I2V's zero frames as a steady tail: its kept frames add to the smallest chunk's peak, and a large chunk
    # computes fewer frames than every frame (more so on longer clips: benchmarks/runs/cpu-2026-12-05f).
    peaks = {(r["op"], r["chunk_latents"]): r["peak_gib"] for r in rows}
    assert peaks["encode", 1] < peaks["encode-i2v", 1] and peaks["encode-i2v", 4] < peaks["encode", 4]
    pixels = 480 * 832
    for op in ("encode", "decode"):
        one, two, four = (r for r in rows if r["op"] == op)
        assert one["bytes_per_pixel"] == pytest.approx(one["peak_gib"] * 2**30 / pixels)
        # Each further latent frame in a chunk adds the same activations (to a few bytes a pixel).
        assert two["per_latent_bytes_per_pixel"] == pytest.approx(
            four["per_latent_bytes_per_pixel"], rel=0.01
        )
        assert 3000 < two["per_latent_bytes_per_pixel"] < 5000
