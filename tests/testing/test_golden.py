"""The golden runner: every shipped fixture passes, and a fixture of another size or a wrong output is judged."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from turbodiffusion.testing import golden


def golden_files(shared_dir):
    files = sorted((shared_dir / "reference" / "golden").glob("*.safetensors"))
    assert files, "no golden fixtures found"
    return files


def pytest_generate_tests(metafunc):
    if "fixture_path" in metafunc.fixturenames:
        from .. import conftest

        folder = conftest.SHARED / "reference" / "golden"
        files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        metafunc.parametrize("fixture_path", files, ids=[f.stem for f in files])


def test_fixture_folder_exists(shared_dir):
    golden_files(shared_dir)


def test_every_golden_fixture_passes(fixture_path):
    result = golden.run_file(fixture_path)
    if result.status == "SKIP" and result.kind == "sla":
        pytest.skip(result.detail)
    assert result.status == "PASS", result.line()


def _tiny_dit_fixture(path, *, head_dim: int, frames: int, seed: int, corrupt: bool = False) -> None:
    """A DiT fixture of another size written by our own model: exercises the runner's generality."""
    from turbodiffusion.models.wan.config import WanDiTConfig
    from turbodiffusion.models.wan.dit import WanDiT

    cfg = {
        "dim": 2 * head_dim,
        "ffn_dim": 80,
        "num_heads": 2,
        "num_layers": 1,
        "text_len": 5,
        "text_dim": 12,
        "freq_dim": 256,
        "in_dim": 16,
        "out_dim": 16,
        "eps": 1e-6,
        "model_type": "t2v",
    }
    g = torch.Generator().manual_seed(seed)
    model = WanDiT(WanDiTConfig.from_official(cfg)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    x = torch.randn(1, 16, frames, 4, 6, generator=g)
    ctx = torch.randn(1, 5, 12, generator=g)
    tensors = {f"weights.{k}": v.contiguous() for k, v in model.state_dict().items()}
    tensors.update({"input.x": x, "input.crossattn_emb": ctx})
    for i, t in enumerate([700.0, 30.0]):
        tensors[f"input.timestep_{i}"] = torch.tensor([[t]])
        with torch.no_grad():
            out = model(x, tensors[f"input.timestep_{i}"], ctx)
        tensors[f"output.{i}"] = out * (1.001 if corrupt and i == 1 else 1.0)
    meta = {
        "case": "dit_t2v_custom",
        "config": json.dumps(cfg),
        "timesteps": "[700.0, 30.0]",
        "seed": str(seed),
    }
    save_file(tensors, str(path), metadata=meta)


def test_runner_reads_size_and_config_from_the_file(tmp_path):
    _tiny_dit_fixture(tmp_path / "a.safetensors", head_dim=32, frames=3, seed=5)
    _tiny_dit_fixture(tmp_path / "b.safetensors", head_dim=96, frames=2, seed=6)
    for name in ("a", "b"):
        assert golden.run_file(tmp_path / f"{name}.safetensors").status == "PASS"


def test_cli_fails_on_a_wrong_output(tmp_path, capsys):
    _tiny_dit_fixture(tmp_path / "good.safetensors", head_dim=32, frames=2, seed=7)
    _tiny_dit_fixture(tmp_path / "bad.safetensors", head_dim=32, frames=2, seed=7, corrupt=True)
    assert golden.main([str(tmp_path / "good.safetensors")]) == 0
    assert golden.main([str(tmp_path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert " dit rel_l2=" in lines[-2] and "FAIL" in lines[-2]
    assert lines[-1].split()[-1] == "PASS"


def test_cli_rejects_missing_paths(tmp_path, capsys):
    assert golden.main([str(tmp_path / "none.safetensors")]) == 2
    assert "no such fixture" in capsys.readouterr().err
