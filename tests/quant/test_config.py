"""Int8Config / Fp8Config / Fp8RowConfig: validation, and the versioned, allow-listed dict round trip."""

from __future__ import annotations

import json

import pytest

from turbodiffusion.quant import Fp8Config, Fp8RowConfig, Int8Config, config_from_dict


@pytest.mark.parametrize("cls", [Int8Config, Fp8Config, Fp8RowConfig])
def test_dict_round_trip(cls):
    cfg = cls(skip=("proj_l", "k_img"), impl="reference")
    d = cfg.to_dict()
    assert d["version"] == 1
    assert cls.from_dict(json.loads(json.dumps(d))) == cfg  # through JSON, as stored in metadata
    assert config_from_dict(json.dumps(d)) == cfg


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"block": 64}, "block must be 128"),
        ({"skip": "proj_l"}, "skip must be a tuple"),
        ({"skip": ("",)}, "skip must be a tuple of non-empty"),
        ({"impl": "cuda"}, "impl must be"),
        ({"version": 2}, "version 2 is not supported"),
    ],
)
@pytest.mark.parametrize("cls", [Int8Config, Fp8Config])
def test_invalid_fields_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_from_dict_refuses_what_is_not_on_the_allow_list():
    good = Int8Config().to_dict()
    with pytest.raises(ValueError, match="unknown quant config type 'int4'"):
        config_from_dict({**good, "type": "int4"})
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['smooth'\]"):
        config_from_dict({**good, "smooth": True})
    with pytest.raises(ValueError, match="has no 'version'"):
        config_from_dict({k: v for k, v in good.items() if k != "version"})
    with pytest.raises(ValueError, match="version 7 is not supported"):
        config_from_dict({**good, "version": 7})
    with pytest.raises(ValueError, match="not valid JSON"):
        config_from_dict("{int8")
    with pytest.raises(ValueError, match="must be a dict"):
        config_from_dict([1, 2])
    with pytest.raises(ValueError, match="expected a Fp8Config dict"):
        Fp8Config.from_dict(good)


def test_fp8_row_config_fields():
    cfg = Fp8RowConfig(fast_accum=True)
    assert config_from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["type"] == "fp8_row"
    with pytest.raises(ValueError, match="fast_accum must be a bool"):
        Fp8RowConfig(fast_accum=1)
    with pytest.raises(ValueError, match="version 2 is not supported"):
        Fp8RowConfig(version=2)
    with pytest.raises(ValueError, match="skip must be a tuple"):
        Fp8RowConfig(skip="proj_l")
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['block'\]"):
        config_from_dict({**cfg.to_dict(), "block": 128})
