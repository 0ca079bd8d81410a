"""The preset table against models.md §7 and its validation."""

from __future__ import annotations

import pytest

from turbodiffusion.models.wan.config import DIT_PRESETS
from turbodiffusion.pipelines.presets import (
    PRESETS,
    HubFiles,
    ModelPreset,
    get_preset,
    parse_resolution,
)


def test_release_file_names():
    assert PRESETS["wan2.1-t2v-1.3b"].experts == ("diffusion_pytorch_model.safetensors",)
    assert PRESETS["wan2.1-t2v-14b"].experts == ("diffusion_pytorch_model.safetensors.index.json",)
    assert PRESETS["wan2.2-i2v-a14b"].experts == (
        "high_noise_model/diffusion_pytorch_model.safetensors.index.json",
        "low_noise_model/diffusion_pytorch_model.safetensors.index.json",
    )
    assert PRESETS["turbowan2.1-t2v-14b-720p-quant"].experts == ("TurboWan2.1-T2V-14B-720P-quant.pth",)
    assert PRESETS["turbowan2.2-i2v-a14b-720p"].experts == (
        "TurboWan2.2-I2V-A14B-high-720P.pth",
        "TurboWan2.2-I2V-A14B-low-720P.pth",
    )
    for p in PRESETS.values():
        if p.dit not in ("builtin", "default"):
            assert p.dit in DIT_PRESETS
            assert (p.vae, p.umt5, p.tokenizer) == (
                "Wan2.1_VAE.pth",
                "models_t5_umt5-xxl-enc-bf16.pth",
                "google/umt5-xxl",
            )


def test_turbowan_presets_come_in_quant_pairs():
    turbo = [n for n in PRESETS if n.startswith("turbowan")]
    assert len(turbo) == 8
    for name in turbo:
        p = PRESETS[name]
        assert p.sla and p.attention == "sagesla"
        assert p.quant == name.endswith("-quant")
        assert p.hub[0].repo.startswith("TurboDiffusion/") and p.hub[1].repo == "Wan-AI/Wan2.1-T2V-1.3B"


def test_i2v_presets_switch_experts_at_0_9_with_sigma_max_200():
    for name in ("wan2.2-i2v-a14b", "turbowan2.2-i2v-a14b-720p", "turbowan2.2-i2v-a14b-720p-quant"):
        p = PRESETS[name]
        assert (p.task, p.boundary, p.sigma_max, len(p.experts)) == ("i2v", 0.9, 200.0, 2)
    assert all(p.sigma_max == 80.0 for p in PRESETS.values() if p.task == "t2v")


def test_get_preset_and_resolutions():
    assert get_preset("builtin-random").dit == "builtin"
    with pytest.raises(
        ValueError,
        match="unknown model preset 'wan-1.3b'; known presets: builtin, builtin-teacher, builtin-random",
    ):
        get_preset("wan-1.3b")
    assert parse_resolution("480p") == (832, 480)
    assert parse_resolution("720p") == (1280, 720)
    assert parse_resolution("640X352") == (640, 352)
    for bad in ("4k", "x480", "832x", "0x480", "-1x5"):
        with pytest.raises(ValueError, match="resolution must be 480p or 720p or WIDTHxHEIGHT"):
            parse_resolution(bad)


def _preset(**kw) -> ModelPreset:
    base = dict(name="x", task="t2v", dit="wan2.1-t2v-1.3b", experts=("a.pth",))
    return ModelPreset(**{**base, **kw})


def test_preset_validation():
    with pytest.raises(ValueError, match='task must be "t2v" or "i2v"'):
        _preset(task="v2v")
    with pytest.raises(ValueError, match="one DiT or two experts"):
        _preset(experts=())
    with pytest.raises(ValueError, match="a boundary is needed exactly when there are two experts"):
        _preset(experts=("a", "b"))
    with pytest.raises(ValueError, match="a boundary is needed exactly when there are two experts"):
        _preset(boundary=0.9)
    with pytest.raises(ValueError, match="unknown attention backend 'flash'"):
        _preset(attention="flash")
    with pytest.raises(ValueError, match="holds SLA weights, so its attention must be sla or sagesla"):
        _preset(sla=True, attention="sdpa")
    with pytest.raises(ValueError, match=r"num_frames must be 4k\+1 \(got 80\)"):
        _preset(num_frames=80)
    with pytest.raises(ValueError, match="'owner/name' repo and at least one pattern"):
        HubFiles("noslash", ("a",))
    with pytest.raises(ValueError, match="'owner/name' repo and at least one pattern"):
        HubFiles("a/b", ())


def test_installed_default_is_the_trained_model_only_when_its_folder_is_shipped(tmp_path, monkeypatch):
    from turbodiffusion.default_model import config as default_config
    from turbodiffusion.pipelines.presets import DEFAULT_PRESET, FALLBACK_PRESET, installed_default_preset

    from ..default_model.tiny import write_tiny

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(default_config, "shipped_dir", lambda: empty)
    assert installed_default_preset() == FALLBACK_PRESET
    shipped = write_tiny(tmp_path / "shipped")
    monkeypatch.setattr(default_config, "shipped_dir", lambda: shipped)
    assert installed_default_preset() == DEFAULT_PRESET
