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
    vae_image_batch=2,
    vae_image_steps=2,
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
    assert (record["vae"]["image_steps"], record["vae"]["video_steps"]) == (
        TINY.vae_image_steps,
        TINY.vae_steps,
    )
    assert record["vae"]["steps"] == TINY.vae_image_steps + TINY.vae_steps
    # 5-frame clips have one latent frame after the first: the only chunking, nothing to time.
    assert record["vae"]["clip_chunk_latents"] == {"chosen": 1, "timed_seconds": {"1": 0.0}}
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
    assert set(check["adherence"]) == {"vae", "teacher", "student", "student+sla", "student+sla+w8a8"}
    for config, scores in check["adherence"].items():
        assert all(0.0 <= scores[k] <= 100.0 for k in ("colour", "shape", "direction", "all"))
        assert ("mae_to_teacher" in scores) == config.startswith("student")


def test_vae_stage_refuses_a_vae_that_cannot_reconstruct(trained, tmp_path):
    work, _ = trained
    for name in ("bank.safetensors", "record.json"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    bank = train.load_bank(tmp_path, torch.device("cpu"))
    strict = dataclasses.replace(TINY, vae_max_l1=1e-6)
    with pytest.raises(RuntimeError, match="reconstructs full-size clips"):
        train.train_vae(strict, tmp_path, bank, torch.device("cpu"))


def test_guidance_stage_keeps_the_scale_the_teacher_scores_best_with(trained, tmp_path, monkeypatch):
    """The scale with the most all-correct videos wins (then object-correct, then the most attributes right,
    then the smaller scale); it is
    recorded, read back by later stages, and the full run's check and export used the recorded one."""
    work, out = trained
    record = json.loads((work / "record.json").read_text())
    chosen = record["guidance"]["chosen"]
    assert chosen in TINY.guidance_options
    assert set(record["guidance"]["teacher"]) == {str(g) for g in TINY.guidance_options}
    assert record["check"]["guidance"] == chosen
    assert json.loads((out / "config.json").read_text())["teacher_sampling"]["guidance"] == chosen

    for name in ("bank.safetensors", "vae.safetensors", "teacher.safetensors", "record.json"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    cpu = torch.device("cpu")
    bank = train.load_bank(tmp_path, cpu)

    def pick(fake: dict[float, tuple[float, ...]]) -> float:
        """fake: scale -> (all, object, colour, shape, direction) the analyser is made to report."""
        calls = []

        def scores(frames, keys):
            values = fake[TINY.guidance_options[len(calls)]]
            calls.append(frames.shape)
            return dict(zip(("all", "object", "colour", "shape", "direction"), values))

        monkeypatch.setattr("turbodiffusion.default_model.check.adherence", scores)
        chosen = train.guidance_stage(TINY, tmp_path, bank, cpu)
        assert len(calls) == 3
        return chosen

    # Most all-correct, then most object-correct.
    assert pick({2.0: (10, 50, 0, 0, 0), 3.0: (40, 60, 0, 0, 0), 5.0: (40, 70, 0, 0, 0)}) == 5.0
    # Nothing all- or object-correct (an undertrained teacher): the attributes right decide, then the scale.
    assert pick({2.0: (0, 0, 34, 13, 16), 3.0: (0, 0, 37, 16, 8), 5.0: (0, 0, 50, 18, 8)}) == 5.0
    assert train.settled_guidance(TINY, tmp_path).guidance == 5.0
    assert pick({2.0: (0, 0, 30, 10, 10), 3.0: (0, 0, 10, 10, 30), 5.0: (0, 0, 20, 20, 0)}) == 2.0
    assert train.settled_guidance(TINY, tmp_path).guidance == 2.0
    assert train.settled_guidance(TINY, tmp_path / "elsewhere").guidance == TINY.guidance


def test_foreground_mask_and_object_crop_follow_the_object():
    gen = torch.Generator().manual_seed(0)
    keys = [
        ("red", "square", "right", None),
        ("cyan", "circle", "up", "navy"),
        ("white", "triangle", "down", "teal"),
    ]
    settings = dataclasses.replace(TINY, frames=9, height=128, width=128)
    video = train.render_keys(keys, 9, settings, gen, torch.device("cpu"))
    mask = train.foreground_mask(video)
    assert mask.shape == (3, 1, 9, 128, 128)
    # Objects never touch the border; each covers 2-9% of a frame (radius 0.10-0.15 of the side).
    border = torch.cat([mask[..., 0, :], mask[..., -1, :], mask[..., :, 0], mask[..., :, -1]], -1)
    assert border.sum() == 0
    coverage = mask.mean((1, 3, 4))
    assert ((coverage > 0.015) & (coverage < 0.1)).all()

    crops = train.object_crop(video, 64, gen)
    assert crops.shape == (3, 3, 9, 64, 64)
    inside = train.foreground_mask(crops).sum((1, 3, 4)) / mask.sum((1, 3, 4))
    # Centred on the path's middle with at most a quarter-window shift: the object is seen in every frame.
    assert (inside > 0.2).all()
    assert train.object_crop(video, 128, gen) is video


def test_reconstruction_error_weights_the_object():
    video = train.render_keys(
        [("blue", "circle", "left", None)], 5, TINY, torch.Generator().manual_seed(1), torch.device("cpu")
    )
    mask = train.foreground_mask(video)
    on_object = video + 0.5 * mask
    on_background = video + 0.5 * (1 - mask) * (mask.mean() / (1 - mask).mean())  # same summed error
    uniform = video + 0.1
    for weight in (0.0, 10.0):
        assert train.reconstruction_error(uniform, video, weight).item() == pytest.approx(0.11, rel=1e-5)
    plain = train.reconstruction_error(on_object, video, 0.0)
    assert train.reconstruction_error(on_object, video, 10.0) > 5 * plain
    assert train.reconstruction_error(on_background, video, 10.0) < train.reconstruction_error(
        on_background, video, 0.0
    )


def test_override_settings_parses_by_field_type_and_names_the_fields():
    s = train.override_settings(TINY, ["teacher_seconds=12.5", "vae_batch=3", "rcm_jvp_impl=reference"])
    assert (s.teacher_seconds, s.vae_batch, s.rcm_jvp_impl) == (12.5, 3, "reference")
    with pytest.raises(ValueError, match="teacher_seconds"):
        train.override_settings(TINY, ["no_such_field=1"])
    with pytest.raises(ValueError, match="vae_batch must be int"):
        train.override_settings(TINY, ["vae_batch=2.5"])
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        train.override_settings(TINY, ["vae_batch"])


def test_seconds_scale_reaches_every_stage_budget():
    """--seconds-scale multiplies every *_seconds budget, the VAE's image phase included (a smoke run at the
    default sizes once spent the image phase's full 90 s because it was left out)."""
    base = train.TrainSettings()
    scaled = train.scaled_budgets(base, 0.01)
    budgets = [f.name for f in dataclasses.fields(base) if f.name.endswith("_seconds")]
    assert {"vae_image_seconds", "vae_seconds", "teacher_seconds", "rcm_seconds", "sla_seconds"} <= set(
        budgets
    )
    for name in budgets:
        assert getattr(scaled, name) == pytest.approx(0.01 * getattr(base, name)), name
    assert dataclasses.replace(scaled, **{n: getattr(base, n) for n in budgets}) == base


def test_temporal_identity_init_makes_a_static_clip_reconstruct_like_its_frame():
    """After the init, every frame of a static clip comes back as the single-image path returns the frame
    (the temporal weights start as subsample / repeat), while the spatial weights stay random."""
    torch.manual_seed(0)
    config = dataclasses.replace(TINY.vae, dim=8)
    vae = train.temporal_identity_init_(train.WanVAE(config).eval())
    frame = torch.rand(2, 3, 1, 32, 32) * 2 - 1
    clip = frame.expand(2, 3, 9, 32, 32).contiguous()
    with torch.no_grad():
        image = vae.decode(vae.encode(frame))
        video = vae.decode(vae.encode(clip))
        assert video.shape == (2, 3, 9, 32, 32)
        torch.testing.assert_close(video, image.expand_as(video), atol=1e-5, rtol=1e-5)
        # Without the init the later frames go through random temporal weights and differ.
        torch.manual_seed(0)
        plain = train.WanVAE(config).eval()
        plain_video = plain.decode(plain.encode(clip))
        assert (plain_video[:, :, 1:] - plain_video[:, :, :1]).abs().max() > 1e-2
    assert any(p.abs().sum() > 0 for n, p in vae.named_parameters() if "time_conv" not in n)


def test_teacher_resumes_from_the_work_folder_and_counts_all_steps(trained, tmp_path):
    work, _ = trained
    for name in ("bank.safetensors", "vae.safetensors", "teacher.safetensors", "record.json"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    cpu = torch.device("cpu")
    bank = train.load_bank(tmp_path, cpu)
    pool = train.build_pool(train.load_vae_work(tmp_path, cpu), bank, TINY, torch.Generator(), cpu)
    before, _ = train.load_work_file(tmp_path / "teacher.safetensors", cpu)
    # No steps: the written teacher is the one it resumed from (a fresh start would be the random init).
    train.train_teacher(dataclasses.replace(TINY, teacher_steps=0), tmp_path, bank, pool, cpu, resume=True)
    after, _ = train.load_work_file(tmp_path / "teacher.safetensors", cpu)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert train.read_record(tmp_path)["teacher"]["total_steps"] == TINY.teacher_steps
    train.train_teacher(TINY, tmp_path, bank, pool, cpu, resume=True)
    record = train.read_record(tmp_path)["teacher"]
    assert (record["steps"], record["total_steps"]) == (TINY.teacher_steps, 2 * TINY.teacher_steps)
    moved, _ = train.load_work_file(tmp_path / "teacher.safetensors", cpu)
    assert any(not torch.equal(before[k], moved[k]) for k in before)


class _PassThroughVAE(torch.nn.Module):
    """encode / decode stand-ins: the identity, or a decoder that returns a flat mid-grey video."""

    def __init__(self, grey: bool) -> None:
        super().__init__()
        self.grey = grey
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def encode(self, video):
        return video

    def decode(self, latent):
        return torch.zeros_like(latent) if self.grey else latent


def test_vae_adherence_scores_what_the_vae_gives_back(trained):
    """The VAE row of the check analyses decoded renders of the held-out prompts: a perfect round trip
    scores 100 on every attribute (the analyser reads the world's own renders right), a VAE that loses
    the object scores 0."""
    work, _ = trained
    cpu = torch.device("cpu")
    bank = train.load_bank(work, cpu)
    full_size = train.TrainSettings()
    perfect = train.vae_adherence(_PassThroughVAE(grey=False), full_size, bank, cpu)
    assert perfect == dict.fromkeys(("colour", "shape", "direction", "background", "object", "all"), 100.0)
    lost = train.vae_adherence(_PassThroughVAE(grey=True), full_size, bank, cpu)
    assert lost["colour"] == lost["all"] == 0.0


def test_clip_chunk_options():
    base = train.TrainSettings()
    assert train.clip_chunk_options(base) == (1, 8)  # 33 frames: 9 latent frames, 8 after the first
    assert train.clip_chunk_options(dataclasses.replace(base, vae_chunk_latents=4)) == (4,)
    assert train.clip_chunk_options(dataclasses.replace(base, vae_frames=5)) == (1,)
    with pytest.raises(ValueError, match="vae_chunk_latents must be >= 0"):
        train.clip_chunk_options(dataclasses.replace(base, vae_chunk_latents=-1))


def test_vae_stage_times_both_chunkings_and_keeps_one(trained, tmp_path):
    """With 9-frame clips (3 latent frames) the clip phase tries chunks of 1 and 2 latent frames on its first
    steps, all of them training steps, and records the timings and the pick."""
    work, _ = trained
    for name in ("bank.safetensors", "record.json"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    settings = dataclasses.replace(TINY, frames=9, vae_frames=9, vae_steps=12, vae_image_steps=1)
    train.train_vae(settings, tmp_path, train.load_bank(tmp_path, torch.device("cpu")), torch.device("cpu"))
    entry = train.read_record(tmp_path)["vae"]
    assert entry["video_steps"] == 12
    chunking = entry["clip_chunk_latents"]
    assert chunking["chosen"] in (1, 2)
    assert set(chunking["timed_seconds"]) == {"1", "2"}
    assert all(v > 0 for v in chunking["timed_seconds"].values())


def test_teacher_trains_on_the_times_of_its_sampler(trained, tmp_path, monkeypatch):
    work, _ = trained
    for name in ("bank.safetensors", "vae.safetensors"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    cpu = torch.device("cpu")
    bank = train.load_bank(tmp_path, cpu)
    pool = train.build_pool(train.load_vae_work(tmp_path, cpu), bank, TINY, torch.Generator(), cpu)
    seen, real = [], train.flow_matching_loss

    def spy(*args, **kwargs):
        seen.append(kwargs["shift"])
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "flow_matching_loss", spy)
    for shift in (1.0, 3.0):
        settings = dataclasses.replace(TINY, teacher_steps=1, teacher_shift=shift)
        train.train_teacher(settings, tmp_path, bank, pool, cpu)
    assert seen == [1.0, 3.0]


def _sla_work(trained, tmp_path):
    work, _ = trained
    names = (
        "bank.safetensors",
        "vae.safetensors",
        "teacher.safetensors",
        "student.safetensors",
        "record.json",
    )
    for name in names:
        (tmp_path / name).write_bytes((work / name).read_bytes())
    cpu = torch.device("cpu")
    bank = train.load_bank(tmp_path, cpu)
    pool = train.build_pool(train.load_vae_work(tmp_path, cpu), bank, TINY, torch.Generator(), cpu)
    return bank, pool, cpu


@pytest.mark.parametrize("base", ["student", "teacher"])
def test_sla_stage_fine_tunes_its_base_and_export_ships_what_the_base_implies(trained, tmp_path, base):
    bank, pool, cpu = _sla_work(trained, tmp_path)
    trained_topk = 0.3  # not the default, so the later stages must read it from the record
    assert trained_topk != TINY.sla_topk
    settings = dataclasses.replace(TINY, sla_base=base, sla_steps=0, sla_topk=trained_topk)
    # No steps: the SLA weights are the base's, proj_l (new with SLA) at zero.
    train.train_sla(settings, tmp_path, bank, pool, cpu)
    sla, _ = train.load_work_file(tmp_path / "sla.safetensors", cpu)
    base_state, _ = train.load_work_file(tmp_path / f"{base}.safetensors", cpu)
    assert all(torch.equal(sla[k], base_state[k]) for k in base_state)
    assert all(not sla[k].any() for k in sla if ".proj_l." in k)
    assert {k: v for k, v in train.read_record(tmp_path)["sla"].items() if k != "loss_every_50"} == {
        "base": base,
        "topk": trained_topk,
        "steps": 0,
        "seconds": 0.0,
    }
    # Later stages check, time and ship the student at the top-k it was trained at, not at TINY's.
    assert train.settled_sla(TINY, tmp_path).sla_topk == trained_topk
    assert train.settled_sla(TINY, tmp_path / "elsewhere") == TINY
    # Either way the shipped student here is the rCM student plus zero proj_l: base "student" ships the SLA
    # weights themselves, base "teacher" adds SLA - teacher (zero) to the rCM student.
    _, shipped, summary = train.merged_student(tmp_path)
    student, _ = train.load_work_file(tmp_path / "student.safetensors", cpu)
    assert summary["sla_base"] == base
    assert all(torch.equal(shipped[k], student[k]) for k in student)
    assert shipped.keys() == sla.keys()


def test_sla_stage_names_its_bases(trained, tmp_path):
    bank, pool, cpu = _sla_work(trained, tmp_path)
    with pytest.raises(ValueError, match="sla_base must be one of teacher, student"):
        train.train_sla(dataclasses.replace(TINY, sla_base="rcm"), tmp_path, bank, pool, cpu)
    (tmp_path / "student.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="run that stage first"):
        train.train_sla(TINY, tmp_path, bank, pool, cpu)
