"""``turbodiffusion quantize``: a synthetic checkpoint in the official layout round-trips; failures leave
nothing behind; the destination is never overwritten by accident."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from turbodiffusion.cli.__main__ import main as cli_main
from turbodiffusion.errors import CheckpointError
from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.loading import load_dit
from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.quant import Int8Config
from turbodiffusion.quant import checkpoint as ckpt

from .test_act_quant import assert_int8_within_half_a_step

# Real names and shapes of a small Wan DiT: every block linear has in_features 256 or 384.
SMALL = WanDiTConfig(dim=256, ffn_dim=384, num_heads=2, num_layers=2, text_dim=64, text_len=8)
N_BLOCK_LINEARS = 10 * SMALL.num_layers


def official_state_dict(seed: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random values under the official Wan names, Conv3d patch embedding [dim, in_dim, 1, 2, 2]."""
    with torch.device("meta"):
        model = WanDiT(SMALL)
    g = torch.Generator().manual_seed(seed)
    sd = {k: (torch.randn(v.shape, generator=g) * 0.05).to(dtype) for k, v in model.state_dict().items()}
    sd["patch_embedding.weight"] = sd["patch_embedding.weight"].reshape(SMALL.dim, SMALL.in_dim, 1, 2, 2)
    return sd


def write_source(sd: dict, folder, kind: str):
    if kind == "safetensors":
        save_safetensors(sd, folder / "model.safetensors")
        return folder / "model.safetensors"
    if kind == "pth":
        torch.save({f"net.{k}": v for k, v in sd.items()}, folder / "model.pth")  # training-style prefix
        return folder / "model.pth"
    names, weight_map = sorted(sd), {}
    for i in range(3):
        shard = f"diffusion_pytorch_model-{i + 1:05d}-of-00003.safetensors"
        save_safetensors({k: sd[k] for k in names[i::3]}, folder / shard)
        weight_map.update(dict.fromkeys(names[i::3], shard))
    index = folder / "diffusion_pytorch_model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def read_all(path) -> tuple[dict[str, torch.Tensor], dict]:
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    return torch.load(path, map_location="cpu", weights_only=True), {}


@pytest.mark.parametrize(
    "kind, dtype, dst_name",
    [
        ("safetensors", torch.bfloat16, "quant.safetensors"),
        ("sharded", torch.float32, "quant.safetensors"),
        ("pth", torch.bfloat16, "quant.pth"),
    ],
)
def test_round_trip_within_half_a_step(tmp_path, kind, dtype, dst_name):
    sd = official_state_dict(seed=len(kind), dtype=dtype)
    src = write_source(sd, tmp_path, kind)
    dst = ckpt.quantize_checkpoint(src, tmp_path / dst_name, progress=False)
    out, metadata = read_all(dst)

    linears = [k[: -len(".weight")] for k in sd if k.startswith("blocks.") and sd[k].dim() == 2]
    assert len(linears) == N_BLOCK_LINEARS
    assert len(out) == len(sd) + N_BLOCK_LINEARS  # each weight became int8_weight + scale
    for p in linears:
        w, q, s = sd[f"{p}.weight"].float(), out[f"{p}.int8_weight"], out[f"{p}.scale"]
        assert q.dtype == torch.int8 and q.shape == w.shape and f"{p}.weight" not in out
        assert s.dtype == torch.float32 and s.shape == (-(-w.shape[0] // 128), w.shape[1] // 128)
        assert_int8_within_half_a_step(w, q, s)
    flat = sd["patch_embedding.weight"].reshape(SMALL.dim, -1)
    assert torch.equal(out["patch_embedding.weight"], flat)  # Conv3d -> Linear layout
    for k, v in sd.items():  # everything else is copied bit for bit, in its own dtype
        if k not in ("patch_embedding.weight",) and f"{k[: -len('.weight')]}.int8_weight" not in out:
            assert out[k].dtype == v.dtype and torch.equal(out[k], v), k
    if dst.suffix == ".safetensors":
        assert Int8Config.from_dict(metadata[ckpt.METADATA_KEY]) == Int8Config()

    model = load_dit(dst, SMALL, quant=True, dtype=torch.float32)  # the file loads into the quantised DiT
    assert torch.equal(model.blocks[1].ffn[2].int8_weight, out["blocks.1.ffn.2.int8_weight"])


class _Boom(RuntimeError):
    pass


@pytest.mark.parametrize("error", [_Boom, KeyboardInterrupt])
@pytest.mark.parametrize("dst_name", ["quant.safetensors", "quant.pth"])
def test_failure_midway_leaves_no_file(tmp_path, monkeypatch, error, dst_name):
    src = write_source(official_state_dict(seed=3, dtype=torch.bfloat16), tmp_path, "safetensors")
    real, calls = ckpt.quantize_blockwise, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # mid-way: several tensors already written
            raise error("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(ckpt, "quantize_blockwise", failing)
    with pytest.raises(error):
        ckpt.quantize_checkpoint(src, tmp_path / dst_name, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    src = write_source(official_state_dict(seed=4, dtype=torch.bfloat16), tmp_path, "safetensors")
    dst = tmp_path / "quant.safetensors"
    dst.write_bytes(b"previous")
    monkeypatch.setattr(ckpt, "quantize_blockwise", lambda *a, **k: (_ for _ in ()).throw(_Boom("x")))
    with pytest.raises(_Boom):
        ckpt.quantize_checkpoint(src, dst, overwrite=True, progress=False)
    assert dst.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "quant.safetensors"]


def test_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    src = write_source(official_state_dict(seed=5, dtype=torch.bfloat16), tmp_path, "safetensors")
    dst = tmp_path / "quant.safetensors"
    dst.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        ckpt.quantize_checkpoint(src, dst, progress=False)
    assert cli_main(["quantize", str(src), str(dst), "--no-progress"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert dst.read_bytes() == b"keep me"
    assert cli_main(["quantize", str(src), str(dst), "--overwrite", "--no-progress"]) == 0
    assert str(dst) in capsys.readouterr().out
    assert read_all(dst)[0]["blocks.0.self_attn.q.int8_weight"].dtype == torch.int8


def test_invalid_sources_and_destinations_raise(tmp_path):
    sd = official_state_dict(seed=6, dtype=torch.bfloat16)
    src = write_source(sd, tmp_path, "safetensors")
    with pytest.raises(ValueError, match="dst must end in .safetensors, .pth or .pt"):
        ckpt.quantize_checkpoint(src, tmp_path / "q.bin", progress=False)
    with pytest.raises(FileNotFoundError, match="destination folder"):
        ckpt.quantize_checkpoint(src, tmp_path / "nope" / "q.safetensors", progress=False)
    with pytest.raises(ValueError, match="config must be an Int8Config"):
        ckpt.quantize_checkpoint(src, tmp_path / "q.safetensors", {"type": "int8"}, progress=False)
    done = ckpt.quantize_checkpoint(src, tmp_path / "q.safetensors", progress=False)
    with pytest.raises(CheckpointError, match="already quantised"):
        ckpt.quantize_checkpoint(done, tmp_path / "q2.safetensors", progress=False)
    save_safetensors(
        {"text_embedding.0.weight": sd["text_embedding.0.weight"]}, tmp_path / "notdit.safetensors"
    )
    with pytest.raises(CheckpointError, match="no block linear weights"):
        ckpt.quantize_checkpoint(tmp_path / "notdit.safetensors", tmp_path / "q3.safetensors", progress=False)
    save_safetensors({"blocks.0.ffn.2.weight": torch.randn(8, 200)}, tmp_path / "oddk.safetensors")
    with pytest.raises(
        CheckpointError,
        match=r"not a multiple of 128, which the INT8 format needs: blocks.0.ffn.2.weight \[8, 200\]",
    ):
        ckpt.quantize_checkpoint(tmp_path / "oddk.safetensors", tmp_path / "q4.safetensors", progress=False)
    save_safetensors(
        {"blocks.0.ffn.2.weight": torch.ones(8, 128, dtype=torch.int32)}, tmp_path / "int.safetensors"
    )
    with pytest.raises(CheckpointError, match="should be a float linear weight"):
        ckpt.quantize_checkpoint(tmp_path / "int.safetensors", tmp_path / "q5.safetensors", progress=False)
    assert not any(p.name.startswith(("q3", "q4", "q5", ".q")) for p in tmp_path.iterdir())
