"""WanDiT built on meta + quantize_(Int8Config()) has exactly the -quant manifests' tensors.

The quantised TurboWan checkpoints store every block linear as ``<p>.int8_weight`` int8 and ``<p>.scale``
fp32 [ceil(out/128), ceil(in/128)], keep ``<p>.bias``, and leave SLA's proj_l in float
(shared/reference/manifests; quantization.md §4).
"""

from __future__ import annotations

import json

import pytest
import torch

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.quant import Int8Config, Int8Linear, quantize_

from ..models.test_dit_manifests import describe_differences

QUANT_MANIFESTS = ["turbowan2.1-t2v-1.3b-sla-quant", "turbowan2.2-i2v-a14b-sla-quant"]
SLA_MARK = ".attn_op.local_attn.proj_l."  # the SLA weights, present only with the "sla" backend


def _quantised_meta_model(manifest: dict, backend: str) -> WanDiT:
    config = WanDiTConfig.from_official(manifest["config"])
    with torch.device("meta"):
        model = WanDiT(config, AttentionConfig(backend=backend))
    return quantize_(model, Int8Config())


def _layout(model: WanDiT) -> dict:
    return {
        name: (list(t.shape), str(t.dtype).removeprefix("torch."))
        for name, t in model.state_dict(keep_vars=True).items()
    }


@pytest.mark.parametrize("manifest_name", QUANT_MANIFESTS)
def test_quantised_meta_model_matches_manifest(shared_dir, manifest_name):
    if "sla" not in BACKENDS:
        pytest.skip('attention backend "sla" is not registered yet (its proj_l keys are in the manifest)')
    manifest = json.loads((shared_dir / "reference" / "manifests" / f"{manifest_name}.json").read_text())
    model = _quantised_meta_model(manifest, "sla")
    theirs = {name: (list(v["shape"]), v["dtype"]) for name, v in manifest["keys"].items()}
    diff = describe_differences(_layout(model), theirs)
    assert not diff, f"quantised WanDiT vs manifest {manifest_name}:\n{diff}"


@pytest.mark.parametrize("manifest_name", QUANT_MANIFESTS)
def test_quantised_block_linears_match_manifest_without_sla(shared_dir, manifest_name):
    # Runs whatever backends exist: with dense attention the model is the manifest minus SLA's proj_l.
    manifest = json.loads((shared_dir / "reference" / "manifests" / f"{manifest_name}.json").read_text())
    model = _quantised_meta_model(manifest, "sdpa")
    theirs = {
        name: (list(v["shape"]), v["dtype"]) for name, v in manifest["keys"].items() if SLA_MARK not in name
    }
    diff = describe_differences(_layout(model), theirs)
    assert not diff, f"quantised WanDiT(sdpa) vs manifest {manifest_name} without proj_l:\n{diff}"
    n_int8 = sum(isinstance(m, Int8Linear) for m in model.modules())
    assert n_int8 == 10 * model.config.num_layers  # q, k, v, o twice, ffn.0, ffn.2 per block
    assert n_int8 == sum(v["dtype"] == "int8" for v in manifest["keys"].values())
