"""The default model's training stages, end to end at a tiny size on the CPU: every stage runs, writes its
file, and the exported folder loads back through the default model's reader."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.vae import WanVAEConfig

train = pytest.importorskip("turbodiffusion.default_model.train")

TINY = train.TrainSettings(
    dit=WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=1, text_dim=384, text_len=16),
    vae=WanVAEConfig(
        dim=4,
        z_dim=16,
        dim_mult=(1, 1, 1, 1),
        num_res_blocks=1,
        latent_mean=(0.0,) * 16,
        latent_std=(1.0,) * 16,
    ),
    frames=5,
    height=64,
    width=64,
    captions_per_key=1,
    vae_frames=5,
    vae_batch=2,
    vae_steps=2,
    vae_max_l1=10.0,  # two steps cannot reconstruct; the refusal itself is tested below
    stats_clips=2,
    pool_size=4,
    teacher_batch=2,
    teacher_steps=3,
    rcm_batch=1,
    rcm_warmup=1,
    rcm_steps=3,
    sla_batch=1,
    sla_steps=2,
    teacher_sampling_steps=3,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    out = work / "shipped"
    train.run_stages(list(train.STAGES), TINY, work, device=torch.device("cpu"), out=out)
    return work, out


def test_every_stage_leaves_its_file_and_record(trained):
    work, _ = trained
    for name in (
        "bank.safetensors",
        "vae.safetensors",
        "teacher.safetensors",
        "student.safetensors",
        "sla.safetensors",
    ):
        assert (work / name).is_file(), name
    record = json.loads((work / "record.json").read_text())
    assert record["teacher"]["steps"] == TINY.teacher_steps
    assert record["sla"]["steps"] == TINY.sla_steps
    # rCM: step 0 is the sCM-only warm-up, then a student update (with DMD) and a critic update alternate.
    assert record["student"]["iterations"] == TINY.rcm_steps
    assert record["student"]["student_updates"] == 2
    seconds = record["time_cpu"]["seconds_per_video"]
    assert set(seconds) == {"teacher", "student", "student+sla", "student+sla+w8a8"}
    assert all(v > 0 for v in seconds.values())


def test_bank_holds_only_training_combinations(trained):
    from turbodiffusion.world.scenes import held_out_combinations

    work, _ = trained
    bank = train.load_bank(work, torch.device("cpu"))
    held = set(held_out_combinations())
    assert {k[:3] for k in bank.keys}.isdisjoint(held)
    assert bank.embeddings.shape == (len(bank.captions), 16, 384)
    assert torch.isfinite(bank.embeddings).all()


def test_latent_statistics_are_those_of_the_trained_encoder(trained):
    """The shipped mean / std are the per-channel statistics of the trained encoder's posterior means on the
    statistics clips: re-measured from the saved weights, they come out the same, and they are not the
    placeholders the VAE trained with."""
    work, _ = trained
    cpu = torch.device("cpu")
    vae = train.load_vae_work(work, cpu)
    bank = train.load_bank(work, cpu)
    raw = train.WanVAE(train._identity_stats(vae.config)).eval()
    raw.load_state_dict(vae.state_dict())
    mean, std, _ = train.latent_statistics(raw, bank, TINY, train.stats_generator(TINY), cpu)
    assert vae.config.latent_mean == pytest.approx(mean, abs=1e-4)
    assert vae.config.latent_std == pytest.approx(std, abs=1e-4)
    assert vae.config.latent_mean != (0.0,) * 16 and vae.config.latent_std != (1.0,) * 16


def test_export_merges_sla_into_the_student_and_loads(trained):
    from turbodiffusion.default_model.files import read_default_model

    work, out = trained
    config, paths = read_default_model(out)
    assert config.dit == TINY.dit
    from safetensors.torch import load_file

    student = load_file(str(paths["student"]))
    teacher = load_file(str(paths["teacher"]))
    assert any(".proj_l." in k for k in student)
    assert not any(".proj_l." in k for k in teacher)
    assert all(t.dtype == torch.bfloat16 for t in student.values() if t.is_floating_point())


def test_check_scores_every_configuration_on_the_held_out_prompts(trained):
    work, _ = trained
    check = json.loads((work / "record.json").read_text())["check"]
    bank = train.load_bank(work, torch.device("cpu"))
    assert check["prompts"] == len(bank.eval_keys) == 2 * 19
    assert set(check["adherence"]) == {"teacher", "student", "student+sla", "student+sla+w8a8"}
    for config, scores in check["adherence"].items():
        assert all(0.0 <= scores[k] <= 100.0 for k in ("colour", "shape", "direction", "all"))
        assert ("mae_to_teacher" in scores) == (config != "teacher")


def test_vae_stage_refuses_a_vae_that_cannot_reconstruct(trained, tmp_path):
    work, _ = trained
    for name in ("bank.safetensors", "record.json"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    bank = train.load_bank(tmp_path, torch.device("cpu"))
    strict = dataclasses.replace(TINY, vae_max_l1=1e-6)
    with pytest.raises(RuntimeError, match="reconstructs full-size clips"):
        train.train_vae(strict, tmp_path, bank, torch.device("cpu"))
