"""The evaluation loop and its table, with fake pipelines (rendered world videos) and the tiny random model."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from turbodiffusion.eval import synthetic
from turbodiffusion.eval.harness import (
    ATTRIBUTES,
    CONFIG_NAMES,
    evaluate,
    format_table,
    held_out_prompts,
    standard_configs,
    summarise,
)
from turbodiffusion.world.captions import parse_prompt
from turbodiffusion.world.render import render, to_uint8_frames
from turbodiffusion.world.scenes import held_out_combinations, sample_scene
from turbodiffusion.world.vocabulary import DIRECTIONS

OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


class WorldPipeline:
    """Draws exactly what the prompt asks (a rendered world video), optionally with the wrong direction."""

    def __init__(self, flip_direction: bool = False, size=(5, 48, 64)):
        self.flip_direction = flip_direction
        self.size = size
        self.calls: list[tuple[str, int]] = []

    def __call__(self, prompt: str, seed: int) -> torch.Tensor:
        self.calls.append((prompt, seed))
        spec = parse_prompt(prompt)
        direction = OPPOSITE[spec.direction] if self.flip_direction else spec.direction
        g = torch.Generator().manual_seed(seed)
        scene = sample_scene(g, combinations=[(spec.colour, spec.shape, direction)])
        scene = dataclasses.replace(scene, background=spec.background)
        return to_uint8_frames(render([scene], *self.size)[0])


def test_held_out_prompts():
    prompts = held_out_prompts(16)
    assert prompts == held_out_prompts(16) and len(prompts) == 16
    assert len(set(prompts)) == 16
    specs = [parse_prompt(p) for p in prompts]
    assert all((s.colour, s.shape, s.direction) in set(held_out_combinations()) for s in specs)
    assert sum(s.background is not None for s in specs) == 8
    assert {s.direction for s in specs} == set(DIRECTIONS)
    assert prompts[0] == "a blue circle moving down"  # the canonical form
    # Each held-out combination once without and once with a background before any prompt repeats.
    assert len(set(held_out_prompts(2 * len(held_out_combinations())))) == 2 * len(held_out_combinations())
    with pytest.raises(ValueError, match=">= 1"):
        held_out_prompts(0)


def test_standard_configs():
    configs = standard_configs(teacher_steps=32, guidance=5.0)
    assert tuple(configs) == CONFIG_NAMES
    teacher = configs["teacher"]
    assert (teacher.model, teacher.sampler, teacher.steps, teacher.guidance) == (
        "builtin-teacher",
        "unipc",
        32,
        5.0,
    )
    rows = [(c.model, c.attention, c.quant, c.sampler, c.steps) for c in list(configs.values())[1:]]
    assert rows == [
        ("builtin", "sdpa", False, "rcm", 4),
        ("builtin", "sla", False, "rcm", 4),
        ("builtin", "sla", True, "rcm", 4),
        ("builtin", "sla", "fp8-row", "rcm", 4),
    ]
    with pytest.raises(ValueError, match="rCM samples without guidance"):
        dataclasses.replace(teacher, sampler="rcm")
    # Left unset, the teacher samples at the model's own scale (the pipeline reads it from the model).
    assert standard_configs()["teacher"].guidance is None


def test_world_pipeline_scores_100_percent():
    prompts = held_out_prompts(16)
    fakes = {
        "student": WorldPipeline(),
        "teacher": WorldPipeline(),
        "wrong": WorldPipeline(flip_direction=True),
    }
    built = []

    def factory(name):
        built.append(name)
        return fakes[name]

    runners = {name: (lambda n=name: factory(n)) for name in fakes}
    results = evaluate(runners, prompts, seed=10, warmup=1, progress=False)
    assert built == ["teacher", "student", "wrong"]  # the reference first, each built once
    assert fakes["teacher"].calls == [(prompts[0], 10)] + [(p, 10 + i) for i, p in enumerate(prompts)]
    rows = {row.config: row for row in summarise(results)}
    assert list(rows) == ["teacher", "student", "wrong"]
    for name in ("teacher", "student"):
        row = rows[name]
        assert row.videos == 16
        assert row.adherence == row.object == 100.0 and all(getattr(row, a) == 100.0 for a in ATTRIBUTES)
    assert rows["teacher"].mae is None
    assert rows["student"].mae == 0.0  # same prompt and seed -> the same frames
    wrong = rows["wrong"]
    assert wrong.direction == 0.0 and wrong.adherence == 0.0 and wrong.object == 0.0
    assert wrong.colour == wrong.shape == wrong.background == 100.0 and wrong.mae > 0.0
    table = format_table(list(rows.values()), "cpu")
    lines = table.splitlines()
    assert len(lines) == 4 and "adherence %" in lines[0] and "s/video (cpu)" in lines[0]
    assert lines[2].split()[:4] == ["student", "16", "100.0", "100.0"]


def test_no_reference_means_no_error_column():
    results = evaluate({"student": WorldPipeline}, held_out_prompts(2), warmup=0, progress=False)
    (row,) = summarise(results)
    assert row.mae is None and row.adherence == 100.0
    assert format_table([row], "cuda").splitlines()[1].split()[8] == "-"


def test_bad_inputs_raise_before_generating():
    fake = WorldPipeline()
    with pytest.raises(ValueError, match="names no shape"):
        evaluate({"teacher": lambda: fake}, ["a red blob moving up"], progress=False)
    assert fake.calls == []
    with pytest.raises(ValueError, match="no prompts"):
        evaluate({"teacher": lambda: fake}, [], progress=False)
    with pytest.raises(ValueError, match="uint8 frames"):
        evaluate(
            {"teacher": lambda: lambda p, s: torch.zeros(5, 8, 8, 3)}, held_out_prompts(1), progress=False
        )
    small = WorldPipeline(size=(5, 48, 48))  # the default fake is 48x64
    with pytest.raises(ValueError, match="same size"):
        evaluate({"teacher": WorldPipeline, "student": lambda: small}, held_out_prompts(1), progress=False)


TINY = [
    "--num-frames",
    "5",
    "--height",
    "32",
    "--width",
    "48",
    "--teacher-steps",
    "2",
    "--student-steps",
    "2",
]
RANDOM = ["--teacher-model", "builtin-random", "--student-model", "builtin-random"]


def test_cli_with_the_random_model(tmp_path, capsys, device):
    # builtin-random makes noise: this checks the plumbing (every configuration loads, runs and is
    # tabulated; the JSON holds every video), not the scores.
    out = tmp_path / "eval.json"
    argv = ["--prompts", "2", "--warmup", "0", "--no-progress", "--json", str(out), *TINY, *RANDOM]
    assert synthetic.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:6]] == list(CONFIG_NAMES)
    payload = json.loads(out.read_text())
    assert [row["config"] for row in payload["summary"]] == list(CONFIG_NAMES)
    assert len(payload["videos"]) == 10 and payload["prompts"] == held_out_prompts(2)
    assert payload["summary"][0]["mae"] is None and all(row["mae"] > 0 for row in payload["summary"][1:])
    assert [c["quant"] for c in payload["configs"]] == [False, False, False, True, "fp8-row"]
    assert payload["environment"]["device_type"] == device  # the default: the GPU when there is one
    video = payload["videos"][-1]
    assert video["config"] == "student+sla+fp8-row" and video["seed"] == 1 and set(video["scores"]) >= {"all"}


def test_cli_errors(tmp_path, capsys):
    assert synthetic.main(["--configs", "teacher,turbo", *TINY, *RANDOM]) == 1
    assert "unknown" in capsys.readouterr().err
    assert synthetic.main(["--configs", "student", "--model-dir", str(tmp_path / "missing"), *TINY]) == 1
    assert capsys.readouterr().err.startswith("error: ")
