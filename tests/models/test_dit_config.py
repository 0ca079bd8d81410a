"""Wan DiT configs: presets, the official config.json mapping, validation, and the video-size rule."""

from __future__ import annotations

import json

import pytest

from turbodiffusion.models.wan import (
    DIT_PRESETS,
    WAN21_T2V_1_3B,
    WAN22_I2V_A14B,
    WanDiT,
    WanDiTConfig,
    check_video_shape,
    dit_preset,
)

I2V_HD96 = WanDiTConfig(
    dim=192, ffn_dim=80, num_heads=2, num_layers=1, in_dim=36, text_dim=24, text_len=6, model_type="i2v"
)

# ---------------------------------------------------------------------------------------------------------
# Configs, presets and the video-size rule.


def test_presets():
    assert WAN21_T2V_1_3B.head_dim == 128 and WAN22_I2V_A14B.cond_dim == 20
    assert dit_preset("wan2.2-i2v-a14b") is WAN22_I2V_A14B
    with pytest.raises(
        ValueError, match=r"unknown Wan DiT preset 'wan2.1-t2v-1.3B'; known presets: wan2.1-t2v-1.3b"
    ):
        dit_preset("wan2.1-t2v-1.3B")


@pytest.mark.parametrize("config", [*DIT_PRESETS.values(), I2V_HD96])
def test_to_dict_round_trips_through_json(config):
    d = json.loads(json.dumps(config.to_dict()))
    assert WanDiTConfig.from_official(d) == config


def test_from_official_accepts_an_official_config_json():
    official = {
        "_class_name": "WanModel", "_diffusers_version": "0.30.0", "dim": 1536, "eps": 1e-06, "ffn_dim": 8960,
        "freq_dim": 256, "in_dim": 16, "model_type": "t2v", "num_heads": 12, "num_layers": 30, "out_dim": 16,
        "text_len": 512, "patch_size": [1, 2, 2], "qk_norm": True, "cross_attn_norm": True,
        "window_size": [-1, -1], "text_dim": 4096,
    }  # fmt: skip
    assert WanDiTConfig.from_official(official) == WAN21_T2V_1_3B


BASE = {"dim": 64, "ffn_dim": 96, "num_heads": 2, "num_layers": 1}


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"dropout": 0.1}, r"unknown Wan DiT config keys: dropout; accepted keys are"),
        ({"_class_name": "WanTransformer3DModel"}, r'_class_name must be "WanModel" \(got'),
        ({"qk_norm": False}, r"qk_norm=False is a Wan variant .* only qk_norm=True is supported"),
        ({"cross_attn_norm": False}, r"only cross_attn_norm=True is supported"),
        ({"window_size": [256, 256]}, r"window_size=\[256, 256\] is a Wan variant"),
        ({"model_type": "flf2v"}, r"model_type 'flf2v' is not supported"),
        ({"model_type": "ti2v"}, r"model_type 'ti2v' is not supported"),
    ],
)
def test_from_official_rejects(extra, message):
    with pytest.raises(ValueError, match=message):
        WanDiTConfig.from_official({**BASE, **extra})


def test_from_official_rejects_missing_keys_and_non_dicts():
    with pytest.raises(ValueError, match="lacks required keys: ffn_dim, num_layers"):
        WanDiTConfig.from_official({"dim": 64, "num_heads": 2})
    with pytest.raises(ValueError, match="a Wan config must be a dict"):
        WanDiTConfig.from_official([("dim", 64)])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dim": 100, "num_heads": 3}, r"dim=100 is not divisible by num_heads=3"),
        ({"dim": 63, "num_heads": 9}, r"head_dim = dim // num_heads must be even and >= 6.*got 7 = 63 // 9"),
        ({"dim": 8, "num_heads": 2}, r"must be even and >= 6.*got 4 = 8 // 2"),
        ({"num_layers": 0}, r"num_layers must be a positive int \(got 0\)"),
        ({"dim": 64.0}, r"dim must be a positive int \(got 64.0\)"),
        ({"text_len": True}, r"text_len must be a positive int \(got True\)"),
        ({"eps": 0.0}, r"eps must be a positive float \(got 0.0\)"),
        ({"freq_dim": 255}, r"freq_dim must be even.*got 255"),
        ({"model_type": "v2v"}, r'model_type must be "t2v" or "i2v" \(got \'v2v\'\)'),
        ({"in_dim": 36}, r"t2v model .* in_dim must equal out_dim \(got in_dim=36, out_dim=16\)"),
        ({"model_type": "i2v"}, r"i2v model .* in_dim must exceed out_dim \(got in_dim=16, out_dim=16\)"),
        ({"patch_size": (1, 2)}, r"patch_size must be three positive ints"),
        ({"patch_size": (1, 0, 2)}, r"patch_size must be three positive ints"),
    ],
)
def test_bad_configs_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        WanDiTConfig(**{**BASE, **changes})


def test_patch_size_list_is_normalised():
    assert WanDiTConfig(**BASE, patch_size=[1, 2, 2]) == WanDiTConfig(**BASE)


def test_model_needs_a_config():
    with pytest.raises(TypeError, match="config must be a WanDiTConfig"):
        WanDiT(BASE)


@pytest.mark.parametrize(
    "size, message",
    [
        ((80, 480, 832), r"num_frames must be 4k\+1 \(got 80\); use 77 or 81"),
        ((2, 480, 832), r"num_frames must be 4k\+1 \(got 2\); use 1 or 5"),
        ((81, 470, 832), r"height must be a multiple of 16 \(got 470\); use 464 or 480"),
        ((81, 480, 8), r"width must be a multiple of 16 \(got 8\); use 16$"),
        ((0, 480, 832), r"num_frames must be a positive int \(got 0\)"),
        ((81, 480.0, 832), r"height must be a positive int \(got 480.0\)"),
    ],
)
def test_check_video_shape_names_the_nearest_valid_sizes(size, message):
    with pytest.raises(ValueError, match=message):
        check_video_shape(*size)


def test_check_video_shape_accepts_the_table_sizes():
    for frames, height, width in [(81, 480, 832), (77, 720, 1280), (1, 16, 16), (5, 960, 960)]:
        check_video_shape(frames, height, width)
