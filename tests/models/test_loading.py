"""Checkpoint loading: official and TurboWan layouts, formats, dtypes, and every kind of bad file."""

from __future__ import annotations

import json

import pytest
import torch

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.errors import CheckpointError
from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.loading import load_dit, save_dit
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.tolerances import GOLDEN_REL_L2

SMALL = WanDiTConfig(dim=128, ffn_dim=96, num_heads=2, num_layers=2, text_dim=24, text_len=8)


def random_dit(config: WanDiTConfig, seed: int, attention: AttentionConfig | None = None) -> WanDiT:
    """A WanDiT with every tensor drawn from a seeded generator (never zeros)."""
    model = WanDiT(config, attention)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


def official_state_dict(model: WanDiT) -> dict[str, torch.Tensor]:
    """The model's tensors as the official Wan safetensors stores them: Conv3d patch embedding."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    w = sd["patch_embedding.weight"]
    sd["patch_embedding.weight"] = w.reshape(w.shape[0], model.config.in_dim, 1, 2, 2)
    return sd


def inputs(config: WanDiTConfig, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, 2, 4, 6, generator=g)
    ctx = torch.randn(1, config.text_len, config.text_dim, generator=g)
    return x, torch.tensor([500.0]), ctx


def write_sharded(sd: dict[str, torch.Tensor], folder, n_shards: int = 3) -> None:
    names = sorted(sd)
    weight_map = {}
    for i in range(n_shards):
        shard = f"diffusion_pytorch_model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {k: sd[k] for k in names[i::n_shards]}
        save_safetensors(part, folder / shard)
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )


def test_official_sharded_layout_round_trips(tmp_path):
    model = random_dit(SMALL, seed=1)
    write_sharded(official_state_dict(model), tmp_path)
    loaded = load_dit(tmp_path, SMALL, dtype=torch.float32)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    x, t, ctx = inputs(SMALL)
    with torch.no_grad():
        # Same weights; only the alignment of the loaded buffers (and so the BLAS path) can differ.
        assert rel_l2(loaded(x, t, ctx), model(x, t, ctx)) <= GOLDEN_REL_L2


def test_pth_with_prefix_and_bf16_conversion(tmp_path):
    model = random_dit(SMALL, seed=2)
    path = tmp_path / "model.pth"
    torch.save({f"net.{k}": v for k, v in model.state_dict().items()}, path)
    loaded = load_dit(path, SMALL, dtype=torch.bfloat16)
    for name, tensor in model.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == torch.bfloat16, name
        assert torch.equal(got, tensor.to(torch.bfloat16)), name


def test_config_is_read_from_our_own_metadata(tmp_path):
    model = random_dit(SMALL, seed=3)
    save_dit(model, tmp_path / "ours.safetensors")
    loaded = load_dit(tmp_path / "ours.safetensors", dtype=torch.float32)
    assert loaded.config == SMALL


def test_loaded_model_has_no_meta_tensors(tmp_path):
    model = random_dit(SMALL, seed=4)
    save_safetensors(model.state_dict(), tmp_path / "m.safetensors")
    loaded = load_dit(tmp_path / "m.safetensors", SMALL, dtype=torch.float32)
    assert not any(t.is_meta for t in (*loaded.parameters(), *loaded.buffers()))


def test_missing_unexpected_and_mis_shaped_keys_are_listed(tmp_path):
    sd = random_dit(SMALL, seed=5).state_dict()
    dropped = [k for k in sd if k.endswith("self_attn.q.weight")]
    for k in dropped:
        del sd[k]
    sd["blocks.0.extra.weight"] = torch.ones(3)
    sd["head.head.bias"] = torch.ones(7)
    save_safetensors(sd, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError) as info:
        load_dit(tmp_path / "bad.safetensors", SMALL)
    msg = str(info.value)
    assert f"missing ({len(dropped)})" in msg and "blocks.0.self_attn.q.weight" in msg
    assert "unexpected (1): blocks.0.extra.weight" in msg
    assert "mis-shaped (1): head.head.bias: file [7] vs model [64]" in msg


def test_long_key_lists_show_the_first_five_and_the_count(tmp_path):
    sd = random_dit(SMALL, seed=6).state_dict()
    save_safetensors({k: v for k, v in sd.items() if not k.startswith("blocks.")}, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match=r"missing \(\d+\): .* \(first 5 shown\)"):
        load_dit(tmp_path / "m.safetensors", SMALL)


def test_wrong_preset_is_named(tmp_path):
    # Only the shapes that identify a preset are needed; the hint must name wan2.1-t2v-1.3b.
    fake = {"patch_embedding.weight": torch.zeros(1536, 16, 1, 2, 2, dtype=torch.bfloat16)}
    fake.update({f"blocks.{i}.modulation": torch.zeros(1, 6, 1, dtype=torch.bfloat16) for i in range(30)})
    save_safetensors(fake, tmp_path / "big.safetensors")
    with pytest.raises(CheckpointError, match="match the preset 'wan2.1-t2v-1.3b'"):
        load_dit(tmp_path / "big.safetensors", SMALL)


def test_quantised_file_without_quant_flag_says_so(tmp_path):
    sd = random_dit(SMALL, seed=7).state_dict()
    w = sd.pop("blocks.0.ffn.0.weight")
    sd["blocks.0.ffn.0.int8_weight"] = torch.zeros(w.shape, dtype=torch.int8)
    sd["blocks.0.ffn.0.scale"] = torch.ones(1, 1)
    save_safetensors(sd, tmp_path / "q.safetensors")
    with pytest.raises(CheckpointError, match="pass quant=True"):
        load_dit(tmp_path / "q.safetensors", SMALL)


@pytest.mark.skipif("sla" not in BACKENDS, reason="sla backend not registered yet")
def test_turbowan_sla_checkpoint_needs_sla_and_plain_wan_can_init_proj_l(tmp_path):
    sla = AttentionConfig(backend="sla", sla_topk=0.5)
    turbo = random_dit(SMALL, seed=8, attention=sla)
    torch.save(turbo.state_dict(), tmp_path / "turbo.pth")
    with pytest.raises(CheckpointError, match='attention="sla"'):
        load_dit(tmp_path / "turbo.pth", SMALL)
    loaded = load_dit(tmp_path / "turbo.pth", SMALL, attention=sla, dtype=torch.float32)
    proj = "blocks.1.self_attn.attn_op.local_attn.proj_l.weight"
    assert torch.equal(loaded.state_dict()[proj], turbo.state_dict()[proj])

    plain = random_dit(SMALL, seed=9)
    save_safetensors(plain.state_dict(), tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match='init_missing="sla"'):
        load_dit(tmp_path / "plain.safetensors", SMALL, attention=sla)
    tuned = load_dit(
        tmp_path / "plain.safetensors", SMALL, attention=sla, init_missing="sla", dtype=torch.float32
    )
    assert torch.count_nonzero(tuned.state_dict()[proj]) == 0

    # Run densely, an SLA checkpoint leaves only its proj_l unread; any other extra key is still refused.
    dense = load_dit(tmp_path / "turbo.pth", SMALL, drop_unused="sla", dtype=torch.float32)
    assert proj not in dense.state_dict()
    assert all(torch.equal(v, turbo.state_dict()[k]) for k, v in dense.state_dict().items())
    extra = {**turbo.state_dict(), "blocks.0.extra.weight": torch.zeros(2)}
    save_safetensors(extra, tmp_path / "extra.safetensors")
    with pytest.raises(CheckpointError, match="blocks.0.extra.weight"):
        load_dit(tmp_path / "extra.safetensors", SMALL, drop_unused="sla")
    with pytest.raises(ValueError, match="drop_unused must be None or"):
        load_dit(tmp_path / "turbo.pth", SMALL, drop_unused="all")


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    save_safetensors(random_dit(SMALL, seed=10).state_dict(), tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_dit(tmp_path / "cut.safetensors", SMALL)


def test_truncated_pth_is_a_clear_error(tmp_path):
    torch.save(random_dit(SMALL, seed=11).state_dict(), tmp_path / "m.pth")
    data = (tmp_path / "m.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_dit(tmp_path / "cut.pth", SMALL)


class NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"weights": NotATensor()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="never pickled code"):
        load_dit(tmp_path / "evil.pth", SMALL)


def test_missing_files_and_shards_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_dit(tmp_path / "nope.safetensors", SMALL)
    write_sharded(random_dit(SMALL, seed=12).state_dict(), tmp_path)
    (tmp_path / "diffusion_pytorch_model-00002-of-00003.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="1 shard.*00002-of-00003"):
        load_dit(tmp_path, SMALL)


def test_folder_with_two_checkpoints_is_ambiguous(tmp_path):
    sd = random_dit(SMALL, seed=13).state_dict()
    save_safetensors(sd, tmp_path / "a.safetensors")
    save_safetensors(sd, tmp_path / "b.safetensors")
    with pytest.raises(FileNotFoundError, match="must hold one checkpoint"):
        load_dit(tmp_path, SMALL)


def test_unknown_format_and_bad_arguments(tmp_path):
    (tmp_path / "m.ckpt.zip").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unsupported checkpoint format"):
        load_dit(tmp_path / "m.ckpt.zip", SMALL)
    save_safetensors(random_dit(SMALL, seed=14).state_dict(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="init_missing must be"):
        load_dit(tmp_path / "m.safetensors", SMALL, init_missing="all")
    with pytest.raises(ValueError, match="preset"):
        load_dit(tmp_path / "m.safetensors", "wan9-huge")


def _randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1 + 0.01)
    return model.eval()


def test_vae_pth_round_trip_and_mismatch(tmp_path):
    from turbodiffusion.models.loading import load_vae
    from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig

    cfg = WanVAEConfig(
        dim=8, z_dim=4, num_res_blocks=1, latent_mean=(0.1, 0.2, 0.3, 0.4), latent_std=(1.0, 2.0, 1.5, 0.5)
    )
    vae = _randomised(WanVAE(cfg), seed=20)
    torch.save(vae.state_dict(), tmp_path / "Wan2.1_VAE.pth")  # the official file is a plain state dict
    loaded = load_vae(tmp_path / "Wan2.1_VAE.pth", cfg, dtype=torch.float32)
    for name, tensor in vae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    with pytest.raises(CheckpointError, match="does not match WanVAE"):
        load_vae(tmp_path / "Wan2.1_VAE.pth")  # the full-size default config


def test_umt5_pth_round_trip(tmp_path):
    from turbodiffusion.models.loading import load_umt5
    from turbodiffusion.models.umt5 import UMT5Config, UMT5Encoder

    cfg = UMT5Config(vocab_size=50, dim=16, dim_attn=16, dim_ffn=24, num_heads=2, num_layers=2, text_len=8)
    enc = _randomised(UMT5Encoder(cfg), seed=21)
    torch.save({k: v.to(torch.bfloat16) for k, v in enc.state_dict().items()}, tmp_path / "t5.pth")
    loaded = load_umt5(tmp_path / "t5.pth", cfg, dtype=torch.bfloat16)
    for name, tensor in enc.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor.to(torch.bfloat16)), name
