"""WanDiT built on meta from each released checkpoint's config has exactly the checkpoint's tensors.

The manifests (shared/reference/manifests) list every parameter name, shape and dtype of the official and
TurboWan checkpoints, as built in fp32; the names are our checkpoint contract.
"""

from __future__ import annotations

import json

import pytest
import torch

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.models.wan import DIT_PRESETS, WanDiT, WanDiTConfig

# manifest -> (the preset its config must equal, self-attention backend whose weights it carries)
MANIFESTS = {
    "wan2.1-t2v-1.3b": ("wan2.1-t2v-1.3b", "sdpa"),
    "wan2.1-t2v-14b": ("wan2.1-t2v-14b", "sdpa"),
    "wan2.2-i2v-a14b": ("wan2.2-i2v-a14b", "sdpa"),
    "turbowan2.1-t2v-1.3b-sla": ("wan2.1-t2v-1.3b", "sla"),
}
SHOWN = 8  # entries listed per kind of difference


def describe_differences(model_keys: dict, manifest_keys: dict) -> str:
    """Missing, unexpected and mismatched names, each with a count and the first few entries."""
    missing = sorted(set(manifest_keys) - set(model_keys))
    unexpected = sorted(set(model_keys) - set(manifest_keys))
    mismatched = sorted(
        f"{k}: model {model_keys[k]} vs manifest {manifest_keys[k]}"
        for k in set(model_keys) & set(manifest_keys)
        if model_keys[k] != manifest_keys[k]
    )
    lines = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape/dtype", mismatched)):
        if items:
            more = f" ... (+{len(items) - SHOWN} more)" if len(items) > SHOWN else ""
            lines.append(f"  {label} ({len(items)}): " + ", ".join(items[:SHOWN]) + more)
    return "\n".join(lines)


def test_describe_differences_reports_each_kind():
    model = {"a": ([1], "float32"), "b": ([2], "float32"), "c": ([3], "float32")}
    manifest = {"a": ([1], "float32"), "b": ([2], "bfloat16"), "d": ([4], "float32")}
    text = describe_differences(model, manifest)
    assert "missing (1): d" in text and "unexpected (1): c" in text
    assert "shape/dtype (1): b: model ([2], 'float32') vs manifest ([2], 'bfloat16')" in text
    assert describe_differences(model, model) == ""


@pytest.mark.parametrize("manifest_name", sorted(MANIFESTS))
def test_meta_model_matches_manifest(shared_dir, manifest_name):
    preset, backend = MANIFESTS[manifest_name]
    if backend not in BACKENDS:
        pytest.skip(f"{backend} backend not registered")
    manifest = json.loads((shared_dir / "reference" / "manifests" / f"{manifest_name}.json").read_text())
    config = WanDiTConfig.from_official(manifest["config"])
    assert config == DIT_PRESETS[preset], f"{manifest_name} config differs from preset {preset}"
    with torch.device("meta"):
        model = WanDiT(config, AttentionConfig(backend=backend))
    ours = {
        name: (list(t.shape), str(t.dtype).removeprefix("torch."))
        for name, t in model.state_dict(keep_vars=True).items()
    }
    theirs = {name: (list(v["shape"]), v["dtype"]) for name, v in manifest["keys"].items()}
    diff = describe_differences(ours, theirs)
    assert not diff, f"WanDiT({preset}, attention={backend!r}) vs manifest {manifest_name}:\n{diff}"
    assert all(t.is_meta for t in model.state_dict(keep_vars=True).values())
