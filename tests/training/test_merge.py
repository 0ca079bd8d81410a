"""Task-arithmetic merging of SLA and rCM updates, and loading the result as a TurboWan checkpoint."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.cli.__main__ import main
from turbodiffusion.models.checkpoint_io import CheckpointReader, save_safetensors
from turbodiffusion.training.merge import merge_state_dicts

from .tiny import TINY_SLA, tiny_teacher


def _sd(seed: int, dtype=torch.bfloat16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "a.weight": torch.randn(3, 5, generator=g).to(dtype),
        "b.bias": torch.randn(7, generator=g).to(dtype),
    }


def test_merge_formula_fp32_math_and_key_rules():
    pre, sla, rcm = _sd(0), _sd(1), _sd(2)
    sla["blocks.0.self_attn.attn_op.local_attn.proj_l.weight"] = torch.full((2, 2), 0.5)
    pre["c.weight"] = sla["c.weight"] = torch.ones(2, 3)
    rcm["c.weight"] = torch.zeros(3, 2)  # shape differs: keeps the rCM value
    rcm["steps"] = torch.tensor([4])  # integer: never blended
    merged, report = merge_state_dicts(pre, sla, rcm, weight=0.5)
    for k in ("a.weight", "b.bias"):
        want = (rcm[k].float() + 0.5 * (sla[k].float() - pre[k].float())).to(torch.bfloat16)
        assert merged[k].dtype == torch.bfloat16 and torch.equal(merged[k], want)
    assert torch.equal(merged["c.weight"], rcm["c.weight"]) and torch.equal(merged["steps"], rcm["steps"])
    proj = merged["blocks.0.self_attn.attn_op.local_attn.proj_l.weight"]
    assert proj.dtype == torch.bfloat16 and torch.equal(proj, torch.full((2, 2), 0.5, dtype=torch.bfloat16))
    assert sorted(report.merged) == ["a.weight", "b.bias"] and sorted(report.kept_rcm) == [
        "c.weight",
        "steps",
    ]
    assert report.copied_from_sla == ["blocks.0.self_attn.attn_op.local_attn.proj_l.weight"]


def test_merge_weight_zero_returns_rcm_and_rejects_foreign_keys():
    pre, sla, rcm = _sd(0), _sd(1), _sd(2)
    merged, _ = merge_state_dicts(pre, sla, rcm, weight=0.0)
    assert all(torch.equal(merged[k], rcm[k]) for k in rcm)
    with pytest.raises(ValueError, match="merge checkpoints that share one base model"):
        merge_state_dicts({**pre, "only.pre": torch.zeros(1)}, sla, rcm)


@pytest.mark.skipif("sla" not in BACKENDS, reason="the SLA attention backend is not registered yet")
def test_merge_cli_output_loads_as_turbowan(tmp_path, capsys):
    from turbodiffusion.models.loading import load_dit, save_dit

    pre = tiny_teacher(0, dtype=torch.bfloat16, config=TINY_SLA)
    rcm = tiny_teacher(1, dtype=torch.bfloat16, config=TINY_SLA)
    sla = tiny_teacher(2, AttentionConfig("sla"), dtype=torch.bfloat16, config=TINY_SLA)
    for name, model in (("pre", pre), ("rcm", rcm), ("sla", sla)):
        save_dit(model, tmp_path / f"{name}.safetensors")
    argv = [
        "merge",
        "--pretrained",
        str(tmp_path / "pre.safetensors"),
        "--sla",
        str(tmp_path / "sla.safetensors"),
    ]
    argv += ["--rcm", str(tmp_path / "rcm.safetensors"), "--out", str(tmp_path / "turbo.safetensors")]
    assert main(argv) == 0
    assert str(tmp_path / "turbo.safetensors") in capsys.readouterr().out
    turbo = load_dit(tmp_path / "turbo.safetensors", attention=AttentionConfig("sla"), dtype=torch.bfloat16)
    state = turbo.state_dict()
    ref_sla = sla.state_dict()
    name = "blocks.0.ffn.0.weight"
    want = (
        rcm.state_dict()[name].float() + ref_sla[name].float() - pre.state_dict()[name].float()
    ).bfloat16()
    assert torch.equal(state[name], want)
    proj = [k for k in state if ".proj_l." in k]
    assert proj and all(torch.equal(state[k], ref_sla[k]) for k in proj)


def test_merge_files_without_sla_backend(tmp_path):
    from turbodiffusion.training.merge import merge_checkpoints

    for i, name in enumerate(("pre", "sla", "rcm")):
        save_safetensors(
            _sd(i), tmp_path / f"{name}.safetensors", {"config": "{}"} if name == "sla" else None
        )
    report = merge_checkpoints(
        *(tmp_path / f"{n}.safetensors" for n in ("pre", "sla", "rcm")), tmp_path / "o.safetensors"
    )
    reader = CheckpointReader(tmp_path / "o.safetensors")
    assert (
        set(reader) == {"a.weight", "b.bias"}
        and reader.metadata["config"] == "{}"
        and len(report.merged) == 2
    )
