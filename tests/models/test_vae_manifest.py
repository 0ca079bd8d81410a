"""WanVAE(WAN21_VAE) has exactly the parameters of the official Wan2.1_VAE.pth (manifest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE, WanVAEConfig


@pytest.fixture(scope="module")
def manifest(shared_dir: Path) -> dict:
    return json.loads((shared_dir / "reference" / "manifests" / "wan2.1-vae.json").read_text())


def test_parameters_match_manifest(manifest: dict):
    with torch.device("meta"):
        model = WanVAE(WAN21_VAE)
    ours = {
        name: (list(t.shape), str(t.dtype).removeprefix("torch.")) for name, t in model.state_dict().items()
    }
    theirs = {name: (spec["shape"], spec["dtype"]) for name, spec in manifest["keys"].items()}
    assert sorted(set(theirs) - set(ours)) == [], "missing"
    assert sorted(set(ours) - set(theirs)) == [], "unexpected"
    mismatched = {name: (ours[name], theirs[name]) for name in theirs if ours[name] != theirs[name]}
    assert mismatched == {}
    assert len(ours) == len(manifest["keys"])
    assert all(p.is_meta for p in model.parameters()) and not list(model.buffers())


def test_config_and_latent_statistics_match_manifest(manifest: dict):
    assert WanVAEConfig.from_official(manifest["config"]) == WAN21_VAE
    assert list(WAN21_VAE.latent_mean) == manifest["latent_mean"]
    assert list(WAN21_VAE.latent_std) == manifest["latent_std"]
    assert (WAN21_VAE.spatial_factor, WAN21_VAE.temporal_factor) == (8, 4)
