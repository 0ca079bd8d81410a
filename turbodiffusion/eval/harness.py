"""Scoring pipelines on held-out prompts: the configurations compared, the prompts, the evaluation loop and
its summary table. Pure functions over "runners" (prompt, seed -> frames), so they are tested with fake
pipelines; ``synthetic.py`` is the command that builds real ones.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..world.captions import PromptSpec, canonical_caption, parse_prompt
from ..world.scenes import held_out_combinations
from ..world.vocabulary import compatible_backgrounds
from .analyser import Analysis, analyse, score

logger = logging.getLogger(__name__)

Runner = Callable[[str, int], Tensor]  # (prompt, seed) -> frames [T, H, W, 3] uint8
ATTRIBUTES = ("colour", "shape", "direction", "background")


@dataclass(frozen=True)
class EvalConfig:
    """One row of the comparison: which model, and how it samples."""

    name: str  # row label, e.g. "student+sla"
    model: str  # preset name passed to TurboPipeline.from_pretrained
    attention: Literal["sdpa", "sla", "sage", "sagesla"]
    quant: bool | str  # W8A8 linears: False, True / "int8", or "fp8-row" (TurboPipeline's quant)
    sampler: Literal["rcm", "unipc", "euler"]
    steps: int
    # Classifier-free guidance scale of the baseline samplers (None: the model's own, e.g. the scale the
    # default model's config.json records); always None for rCM, which is distilled without guidance.
    guidance: float | None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"config {self.name!r}: steps must be >= 1 (got {self.steps})")
        if self.sampler == "rcm" and self.guidance is not None:
            raise ValueError(f"config {self.name!r}: rCM samples without guidance; set guidance=None")


CONFIG_NAMES = ("teacher", "student", "student+sla", "student+sla+w8a8", "student+sla+fp8-row")
REFERENCE = "teacher"  # the configuration the others' pixel error is measured against


def standard_configs(
    *,
    teacher_steps: int = 32,
    guidance: float | None = None,
    student_steps: int = 4,
    teacher_model: str = "builtin-teacher",
    student_model: str = "builtin",
) -> dict[str, EvalConfig]:
    """The rows in CONFIG_NAMES order: the many-step guided teacher, the rCM student with dense attention,
    with SLA, with SLA + W8A8 (INT8, the TurboWan format) and with SLA + FP8 row-wise W8A8 (our mode)."""
    return {
        "teacher": EvalConfig("teacher", teacher_model, "sdpa", False, "unipc", teacher_steps, guidance),
        "student": EvalConfig("student", student_model, "sdpa", False, "rcm", student_steps, None),
        "student+sla": EvalConfig("student+sla", student_model, "sla", False, "rcm", student_steps, None),
        "student+sla+w8a8": EvalConfig(
            "student+sla+w8a8", student_model, "sla", True, "rcm", student_steps, None
        ),
        "student+sla+fp8-row": EvalConfig(
            "student+sla+fp8-row", student_model, "sla", "fp8-row", "rcm", student_steps, None
        ),
    }


def held_out_prompts(n: int = 16) -> list[str]:
    """``n`` canonical prompts over held_out_combinations(), deterministic; every second one names a
    background (cycling through those the colour is drawable on). Past the held-out count the list wraps
    around with the other half naming backgrounds, so the first 2 x len(held_out_combinations()) prompts
    are distinct (each combination once without and once with a background)."""
    if n < 1:
        raise ValueError(f"the number of prompts must be >= 1 (got {n})")
    combos = held_out_combinations()
    # A fixed stride visits the sorted list out of order, so a short prefix still mixes colours and shapes.
    stride = 7
    assert math.gcd(stride, len(combos)) == 1
    prompts = []
    for i in range(n):
        colour, shape, direction = combos[(i * stride) % len(combos)]
        background = None
        if i % 2 == 1:
            options = compatible_backgrounds(colour)
            background = options[(i // 2 + i // len(combos)) % len(options)]
        prompts.append(canonical_caption(colour, shape, direction, background))
    return prompts


@dataclass(frozen=True)
class VideoResult:
    """One generated video, read back and scored."""

    config: str
    prompt: str
    seed: int
    analysis: Analysis
    scores: dict[str, bool]  # ATTRIBUTES, "object" and "all" (see analyser.score)
    seconds: float  # wall-clock of the runner call
    mae: float | None  # mean |frames - reference frames| / 255 (same prompt and seed); None: no reference


@dataclass(frozen=True)
class ConfigSummary:
    """One row of the table: percentages over the prompts, mean error to the reference, time per video."""

    config: str
    videos: int
    adherence: float  # % of videos with every attribute right, background included (score's "all")
    object: float  # % with the object's colour, shape and direction right (score's "object")
    colour: float  # % per attribute
    shape: float
    direction: float
    background: float
    mae: float | None  # mean over prompts; None for the reference itself or when there is none
    seconds: float  # median wall-clock seconds per video (after warm-up)


def _check_frames(frames: Tensor, config: str) -> Tensor:
    if (
        not isinstance(frames, Tensor)
        or frames.dtype != torch.uint8
        or frames.dim() != 4
        or frames.shape[-1] != 3
    ):
        got = f"{frames.dtype} {tuple(frames.shape)}" if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"config {config!r} returned {got}; a runner must return uint8 frames [T, H, W, 3]")
    return frames.cpu()


def evaluate(
    runners: Mapping[str, Callable[[], Runner]],
    prompts: Sequence[str],
    *,
    seed: int = 0,
    reference: str | None = REFERENCE,
    warmup: int = 1,
    progress: bool = True,
) -> list[VideoResult]:
    """Generate, analyse and score every prompt with every configuration.

    runners: configuration name -> factory returning a Runner; each factory is called once, when its
    configuration's turn comes, and the runner is dropped afterwards (one pipeline in memory at a time).
    Prompt i uses seed ``seed + i`` in every configuration. reference: the configuration whose frames the
    others are compared with (run first; its frames are kept); None or absent: no pixel error. warmup:
    untimed calls per configuration before the timed ones (compilation, autotuning, caches).
    Returns one VideoResult per (configuration, prompt), configurations in run order.
    """
    if not prompts:
        raise ValueError("no prompts to evaluate; pass at least one")
    if not runners:
        raise ValueError("no configurations to evaluate; pass at least one runner")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 (got {warmup})")
    specs: list[PromptSpec] = [parse_prompt(p) for p in prompts]  # bad prompts fail before any generation
    order = sorted(runners, key=lambda name: name != reference)  # stable: the reference first
    reference_frames: list[Tensor] = []
    results: list[VideoResult] = []
    for name in order:
        logger.info("evaluating %s on %d prompts", name, len(prompts))
        runner = runners[name]()
        for _ in range(warmup):
            runner(prompts[0], seed)
        for i, (prompt, spec) in enumerate(
            tqdm(list(zip(prompts, specs, strict=True)), desc=name, disable=not progress)
        ):
            start = time.perf_counter()
            frames = _check_frames(runner(prompt, seed + i), name)
            seconds = time.perf_counter() - start
            analysis = analyse(frames)
            mae = None
            if name == reference:
                reference_frames.append(frames)
            elif reference_frames:
                ref = reference_frames[i]
                if ref.shape != frames.shape:
                    raise ValueError(
                        f"config {name!r} made {tuple(frames.shape)} frames but {reference!r} made "
                        f"{tuple(ref.shape)}; compare configurations at the same size"
                    )
                mae = float((frames.float() - ref.float()).abs().mean()) / 255.0
            result = VideoResult(name, prompt, seed + i, analysis, score(analysis, spec), seconds, mae)
            logger.debug("%s %r: %s", name, prompt, result.analysis)
            results.append(result)
        del runner
    return results


def _percent(results: Sequence[VideoResult], key: str) -> float:
    return 100.0 * sum(r.scores[key] for r in results) / len(results)


def summarise(results: Sequence[VideoResult]) -> list[ConfigSummary]:
    """One ConfigSummary per configuration, in the order they appear in ``results``."""
    names = list(dict.fromkeys(r.config for r in results))
    rows = []
    for name in names:
        mine = [r for r in results if r.config == name]

        errors = [r.mae for r in mine if r.mae is not None]
        rows.append(
            ConfigSummary(
                config=name,
                videos=len(mine),
                adherence=_percent(mine, "all"),
                object=_percent(mine, "object"),
                colour=_percent(mine, "colour"),
                shape=_percent(mine, "shape"),
                direction=_percent(mine, "direction"),
                background=_percent(mine, "background"),
                mae=statistics.fmean(errors) if errors else None,
                seconds=statistics.median(r.seconds for r in mine),
            )
        )
    return rows


def format_table(rows: Sequence[ConfigSummary], device: str) -> str:
    """A fixed-width table, one line per configuration."""
    header = (
        "config",
        "videos",
        "adherence %",
        "object %",
        "colour %",
        "shape %",
        "direction %",
        "background %",
        "MAE vs teacher",
        f"s/video ({device})",
    )
    cells = [
        (
            r.config,
            str(r.videos),
            f"{r.adherence:.1f}",
            f"{r.object:.1f}",
            f"{r.colour:.1f}",
            f"{r.shape:.1f}",
            f"{r.direction:.1f}",
            f"{r.background:.1f}",
            "-" if r.mae is None else f"{r.mae:.4f}",
            f"{r.seconds:.3f}",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) for c in cells]
    return "\n".join(lines)


def result_record(result: VideoResult) -> dict:
    """A VideoResult as plain JSON-able data."""
    record = asdict(result)
    record["analysis"] = asdict(result.analysis)
    return record
