"""The "builtin" and "builtin-teacher" presets: loading a default-model folder (a tiny one written here with
the real writer), generating through the pipeline, sampling defaults, attention choice, and errors."""

from __future__ import annotations

import logging

import pytest
import torch
from safetensors import safe_open

from turbodiffusion.attention import BACKENDS
from turbodiffusion.attention.registry import BackendSpec
from turbodiffusion.default_model import config as default_config
from turbodiffusion.default_model import files as default_files
from turbodiffusion.default_model.config import STUDENT_FILE, TEACHER_FILE
from turbodiffusion.errors import CheckpointError
from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.minilm import MiniLMEncoder, MiniLMTokenizer
from turbodiffusion.pipelines import PRESETS, TurboPipeline
from turbodiffusion.pipelines.components import default_attention, resolve_preset, sampling_defaults
from turbodiffusion.quant.int8_linear import Int8Linear

from ..default_model.tiny import TEACHER_SAMPLING, TINY_DIT, write_tiny

SMALL = dict(num_frames=5, height=32, width=32, progress=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("default") / "default")


@pytest.fixture(scope="module")
def student(folder):
    return TurboPipeline.from_pretrained(folder, device="cpu")


@pytest.fixture(scope="module")
def teacher(folder):
    return TurboPipeline.from_pretrained("builtin-teacher", checkpoint_dir=folder, device="cpu")


def test_presets_and_default_size():
    for name in ("builtin", "builtin-teacher"):
        p = PRESETS[name]
        assert (p.num_frames, p.resolution, p.fps, p.task, p.hub) == (33, "256x256", 16, "t2v", ())
    assert PRESETS["builtin"].distilled and PRESETS["builtin"].sla and PRESETS["builtin"].attention == "sla"
    assert not PRESETS["builtin-teacher"].distilled and not PRESETS["builtin-teacher"].sla


def test_folder_resolution(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(default_config, "shipped_dir", lambda: tmp_path / "shipped")
    assert resolve_preset("builtin", None, None) == (PRESETS["builtin"], tmp_path / "shipped")
    assert resolve_preset("builtin-teacher", folder, None) == (PRESETS["builtin-teacher"], folder)
    assert resolve_preset(folder, None, None) == (PRESETS["builtin"], folder)  # recognised by its files
    assert resolve_preset(str(folder), None, True) == (PRESETS["builtin"], folder)


def test_student_loads_strictly_with_minilm_and_no_random_warning(folder, caplog):
    with caplog.at_level(logging.WARNING):
        pipe = TurboPipeline.from_pretrained("builtin", checkpoint_dir=folder, device="cpu", dtype="float32")
    assert not any("RANDOM" in r.getMessage() for r in caplog.records)
    c = pipe.components
    assert (c.preset.name, c.attention.backend, c.quant, c.dtype) == ("builtin", "sla", None, torch.float32)
    assert isinstance(c.text_encoder, MiniLMEncoder) and isinstance(c.tokenizer, MiniLMTokenizer)
    assert c.tokenizer.text_len == TINY_DIT.text_len
    assert c.text_encoder.embeddings.word_embeddings.weight.dtype == torch.float32
    dit = c.dits[0]
    assert dit.config == TINY_DIT
    state = dit.state_dict()
    with safe_open(str(folder / STUDENT_FILE), "pt") as f:
        assert set(f.keys()) == set(state)
        for name in f.keys():  # the file's bf16 values, exactly, in the requested float32
            assert state[name].dtype == torch.float32
            assert torch.equal(state[name], f.get_tensor(name).float()), name
    assert any(".proj_l." in n for n in state)
    assert c.vae.config == default_files.read_default_model(folder)[0].vae  # trained latent statistics


def test_student_generates_deterministically_from_the_prompt(student):
    a = student("a red circle moving right", seed=1, **SMALL)
    b = student("a red circle moving right", seed=1, **SMALL)
    c = student("a blue square moving up", seed=1, **SMALL)
    assert a.frames.shape == (5, 32, 32, 3) and a.frames.dtype == torch.uint8
    assert torch.equal(a.frames, b.frames) and not torch.equal(a.frames, c.frames)
    s = a.settings
    assert (s.model, s.sampler, s.steps, s.attention, s.dtype, a.fps) == (
        "builtin",
        "rcm",
        4,
        "sla",
        "bfloat16",
        16,
    )
    assert ("text_encoder", "park") in student.residency.events  # parked like umT5 after encoding


def _record_ids(pipe):
    seen = []
    handle = pipe.components.text_encoder.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].clone())
    )
    return seen, handle


def test_teacher_samples_with_its_config_defaults(teacher):
    assert sampling_defaults(teacher.preset, teacher.components.folder) == teacher.components.sampling
    seen, handle = _record_ids(teacher)
    try:
        out = teacher("a red circle moving right", **SMALL)
    finally:
        handle.remove()
    s = out.settings
    want = TEACHER_SAMPLING
    assert (s.sampler, s.steps, s.guidance, s.shift) == (
        want["sampler"],
        want["steps"],
        want["guidance"],
        want["shift"],
    )
    assert len(out.timings.steps) == want["steps"]
    (ids,) = seen
    assert ids.shape == (2, TINY_DIT.text_len)  # prompt and negative prompt in one batch
    tok = teacher.components.tokenizer
    assert torch.equal(ids[1], tok([""])[0][0])  # the negative prompt is "": [CLS] [SEP] then padding
    assert ids[1, :2].tolist() == [tok.cls_id, tok.sep_id] and not ids[1, 2:].any()


def test_explicit_arguments_override_the_defaults(teacher, student):
    out = teacher("x", steps=2, guidance=1.5, shift=2.0, negative_prompt="a green square", **SMALL)
    assert (out.settings.steps, out.settings.guidance, out.settings.shift) == (2, 1.5, 2.0)
    out = teacher("x", sampler="euler", **SMALL)
    assert (out.settings.sampler, out.settings.steps) == ("euler", TEACHER_SAMPLING["steps"])
    out = student("x", sampler="unipc", **SMALL)  # the student's baseline steps also come from the config
    assert (out.settings.steps, out.settings.guidance) == (
        TEACHER_SAMPLING["steps"],
        TEACHER_SAMPLING["guidance"],
    )


def test_student_runs_sla_at_the_top_k_it_was_trained_at(tmp_path):
    from turbodiffusion.attention import AttentionConfig

    from ..default_model.tiny import tiny_config

    folder = write_tiny(tmp_path / "default", tiny_config(sla_topk=0.25))
    pipe = TurboPipeline.from_pretrained("builtin", checkpoint_dir=folder, device="cpu")
    assert (pipe.components.attention.backend, pipe.components.attention.sla_topk) == ("sla", 0.25)
    for sla_in in ({"sla_topk": 0.5}, {"attention": AttentionConfig("sla", sla_topk=0.5)}):  # asked for: wins
        pipe = TurboPipeline.from_pretrained("builtin", checkpoint_dir=folder, device="cpu", **sla_in)
        assert pipe.components.attention.sla_topk == 0.5


def test_quant_quantises_the_dit(folder):
    pipe = TurboPipeline.from_pretrained(folder, device="cpu", quant=True)
    assert pipe.components.quant
    assert any(isinstance(m, Int8Linear) for m in pipe.components.dits[0].modules())
    out = pipe("a red circle moving right", **SMALL)
    assert out.settings.quant and out.frames.shape == (5, 32, 32, 3)


def test_attention_choice(folder, monkeypatch):
    # Asked for, dense attention runs the student without SLA's linear branch (its proj_l left unread).
    dense = TurboPipeline.from_pretrained(folder, device="cpu", attention="sdpa", dtype="float32")
    assert dense.components.attention.backend == "sdpa"
    state = dense.components.dits[0].state_dict()
    assert not any(".proj_l." in n for n in state)
    with safe_open(str(folder / STUDENT_FILE), "pt") as f:
        assert set(f.keys()) - set(state) == {n for n in f.keys() if ".proj_l." in n} != set()
        assert all(torch.equal(state[n], f.get_tensor(n).float()) for n in state)
    preset = PRESETS["builtin"]
    assert default_attention(preset, torch.device("cpu"), torch.bfloat16, 64) == "sla"
    runs = BackendSpec("sagesla", lambda cfg, d: None, lambda dev, dt, d: None, False)
    cannot = BackendSpec("sagesla", lambda cfg, d: None, lambda dev, dt, d: "needs sm80", False)
    monkeypatch.setitem(BACKENDS, "sagesla", runs)
    assert default_attention(preset, torch.device("cuda"), torch.bfloat16, 64) == "sagesla"
    assert default_attention(PRESETS["builtin-teacher"], torch.device("cuda"), torch.bfloat16, 64) == "sdpa"
    assert default_attention(preset, torch.device("cpu"), torch.bfloat16, 64) == "sla"
    monkeypatch.setitem(BACKENDS, "sagesla", cannot)
    assert default_attention(preset, torch.device("cuda"), torch.bfloat16, 64) == "sla"


def test_missing_folder_and_files_are_named(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(default_config, "shipped_dir", lambda: tmp_path / "absent")
    with pytest.raises(
        FileNotFoundError, match="absent does not exist: this install has no trained default model"
    ):
        TurboPipeline.from_pretrained(device="cpu")  # the default preset is "builtin"
    broken = write_tiny(tmp_path / "broken")
    (broken / TEACHER_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="lacks teacher_dit.safetensors: .*--model builtin-random"):
        TurboPipeline.from_pretrained(broken, device="cpu")


def test_a_file_that_does_not_match_is_refused(tmp_path):
    bad = write_tiny(tmp_path / "bad")
    with safe_open(str(bad / TEACHER_FILE), "pt") as f:  # a student file without SLA's proj_l
        save_safetensors({k: f.get_tensor(k) for k in f.keys()}, bad / STUDENT_FILE)
    with pytest.raises(CheckpointError, match=r"missing \(2\): blocks.0.self_attn.attn_op.local_attn.proj_l"):
        TurboPipeline.from_pretrained(bad, device="cpu")
