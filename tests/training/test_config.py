"""Training configs from TOML and YAML, and every validation rule."""

from __future__ import annotations

import pytest

from turbodiffusion.training.config import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RCMConfig,
    RunConfig,
    config_from_dict,
    load_config,
)

TOML = """
kind = "rcm"
[data]
cache_dir = "cache"
batch_size = 2
[model]
dit = { dim = 32, ffn_dim = 64, num_heads = 2, num_layers = 1, text_dim = 16, text_len = 8, freq_dim = 16 }
[optim]
lr = 2e-6
betas = [0.0, 0.999]
[run]
output_dir = "out"
max_steps = 7
[rcm]
critic_freq = 3
[rcm.loss]
p_mean = 1.5
warmup_iters = 0
"""

YAML = """
kind: flow
data: {cache_dir: cache}
model: {preset: wan2.1-t2v-1.3b, dtype: bfloat16}
run: {mixed_precision: true}
"""


def test_toml_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(TOML)
    cfg = load_config(path)
    assert cfg.kind == "rcm" and cfg.data.batch_size == 2 and cfg.optim.betas == (0.0, 0.999)
    assert cfg.rcm.critic_freq == 3 and cfg.rcm.loss.p_mean == 1.5 and cfg.rcm.loss.p_std == 1.6
    assert cfg.model.dit_config().dim == 32 and cfg.run.max_steps == 7
    with pytest.raises(ValueError, match="is a 'rcm' config but the command asked for 'flow'"):
        load_config(path, kind="flow")


def test_yaml_config(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "c.yaml"
    path.write_text(YAML)
    cfg = load_config(path, kind="flow")
    assert cfg.model.dit_config().dim == 1536 and cfg.model.dtype == "bfloat16" and cfg.run.mixed_precision


def test_config_errors(tmp_path):
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(ValueError, match=r"must be .toml, .yaml or .yml \(got c.json\)"):
        load_config(tmp_path / "c.json")
    base = {"kind": "flow", "data": {"cache_dir": "c"}, "model": {"preset": "wan2.1-t2v-1.3b"}}
    with pytest.raises(ValueError, match=r"unknown key\(s\) in run: max_step;"):
        config_from_dict({**base, "run": {"max_step": 3}})
    with pytest.raises(ValueError, match="unknown key.* in : extra"):
        config_from_dict({**base, "extra": 1})
    with pytest.raises(ValueError, match="data must be a table of DataConfig fields"):
        config_from_dict({**base, "data": "c"})
    with pytest.raises(ValueError, match="kind must be one of flow, sla, rcm"):
        config_from_dict({**base, "kind": "dmd"})
    with pytest.raises(ValueError, match="data.cache_dir is required"):
        DataConfig()
    with pytest.raises(ValueError, match="data.batch_size must be >= 1"):
        DataConfig(cache_dir="c", batch_size=0)
    with pytest.raises(ValueError, match="model.preset and model.dit are exclusive"):
        ModelConfig(preset="wan2.1-t2v-1.3b", dit={"dim": 1})
    with pytest.raises(ValueError, match="model needs a checkpoint, a preset or a dit table"):
        ModelConfig()
    with pytest.raises(ValueError, match="model.dtype must be one of float32, bfloat16"):
        ModelConfig(preset="wan2.1-t2v-1.3b", dtype="fp8")
    with pytest.raises(ValueError, match="optim.lr must be positive"):
        OptimConfig(lr=0.0)
    with pytest.raises(ValueError, match=r"optim.betas must be two numbers in \[0, 1\)"):
        OptimConfig(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="optim.warmup_steps must be >= 0"):
        OptimConfig(warmup_steps=-1)
    with pytest.raises(ValueError, match="rcm.critic_freq must be >= 1"):
        RCMConfig(critic_freq=0)
    with pytest.raises(ValueError, match="run.max_steps must be >= 1"):
        RunConfig(max_steps=0)
    with pytest.raises(ValueError, match=r"run.ema_sigma_rel must be in \(0, 0.2887\]"):
        RunConfig(ema_sigma_rel=0.5)
