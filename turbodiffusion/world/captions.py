"""Captions of the synthetic world (templates with paraphrases) and the parser that reads a prompt back
into words.

Every caption stays within 16 word pieces of a BERT uncased tokenizer, [CLS] and [SEP] included (the text
encoder's context length, ``default_model.config.TEXT_LEN``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .scenes import Combination, Scene
from .vocabulary import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES, compatible_backgrounds

# How each direction is said after a verb: the bare word, and the "to the left" / "leftwards" forms.
_DIRECTION_PHRASES: dict[str, tuple[str, str]] = {
    "left": ("to the left", "leftwards"),
    "right": ("to the right", "rightwards"),
    "up": ("upwards", "upward"),
    "down": ("downwards", "downward"),
}

# Object templates. {a}: article for the colour word, {c} colour, {s} shape, {d} the bare direction,
# {p} the first paraphrase of _DIRECTION_PHRASES, {w} the second. The first is the canonical form.
CANONICAL_TEMPLATE = "{a} {c} {s} moving {d}"
_TEMPLATES: tuple[str, ...] = (
    CANONICAL_TEMPLATE,
    "{a} {c} {s} moves {p}",
    "{a} {c} {s} slides {d}",
    "a {s}, {c}, travelling {d}",
    "{c} {s} going {d}",
    "the {c} {s} drifts {p}",
    "{a} {c} {s} heading {w}",
)
# Background phrases, appended iff the scene names a background. The first is the canonical one.
CANONICAL_BACKGROUND_TEMPLATE = "on {a} {b} background"
_BACKGROUND_TEMPLATES: tuple[str, ...] = (
    CANONICAL_BACKGROUND_TEMPLATE,
    "against {a} {b} backdrop",
    "over {a} {b} background",
    "on {b}",
)

# Words the parser accepts beyond the vocabulary itself.
_SHAPE_SYNONYMS: dict[str, str] = {"disc": "circle", "disk": "circle", "ball": "circle", "rhombus": "diamond"}
_DIRECTION_WORDS: dict[str, str] = {
    "left": "left",
    "leftward": "left",
    "leftwards": "left",
    "right": "right",
    "rightward": "right",
    "rightwards": "right",
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "down": "down",
    "downward": "down",
    "downwards": "down",
}
_BACKGROUND_SYNONYMS: dict[str, str] = {"grey": "gray"}
_BACKGROUND_NOUNS = ("background", "backdrop")
_BACKGROUND_PREPOSITIONS = ("on", "against", "over")
_FILLERS = ("a", "an", "the", "plain", "uniform")


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt asks for, in vocabulary words. background None = the prompt names none (default)."""

    colour: str
    shape: str
    direction: str
    background: str | None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def format_caption(
    colour: str, shape: str, direction: str, background: str | None, template: int = 0, bg_template: int = 0
) -> str:
    """The caption from object template ``template`` and background template ``bg_template`` (0 = canonical:
    "a red circle moving right on a blue background"). The background phrase appears iff background is set."""
    text = _TEMPLATES[template].format(
        a=_article(colour),
        c=colour,
        s=shape,
        d=direction,
        p=_DIRECTION_PHRASES[direction][0],
        w=_DIRECTION_PHRASES[direction][1],
    )
    if background is not None:
        text += " " + _BACKGROUND_TEMPLATES[bg_template].format(a=_article(background), b=background)
    return text


def canonical_caption(colour: str, shape: str, direction: str, background: str | None = None) -> str:
    """ "a <colour> <shape> moving <direction>" (+ " on a <background> background" when one is named)."""
    return format_caption(colour, shape, direction, background)


def num_templates() -> tuple[int, int]:
    """(object templates, background templates)."""
    return len(_TEMPLATES), len(_BACKGROUND_TEMPLATES)


def _randint(generator: torch.Generator, n: int) -> int:
    return int(torch.randint(n, (), generator=generator, device=generator.device).item())


def caption(scene: Scene, generator: torch.Generator) -> str:
    """A random paraphrase of the scene (template and background phrase drawn from ``generator``)."""
    template = _randint(generator, len(_TEMPLATES))
    bg_template = _randint(generator, len(_BACKGROUND_TEMPLATES))
    return format_caption(scene.colour, scene.shape, scene.direction, scene.background, template, bg_template)


def bank_captions(
    combinations: Sequence[Combination], generator: torch.Generator, per_key: int = 2
) -> list[tuple[str, str, str, str | None, str]]:
    """A finite caption bank for precomputing text embeddings.

    For each (colour, shape, direction) in ``combinations`` and each background option (None, then every
    background the colour is drawable on), ``per_key`` distinct captions: the canonical one first (the
    evaluation prompts use it), then distinct random templates. Returns rows
    (colour, shape, direction, background_or_None, caption).
    """
    if not 1 <= per_key <= len(_TEMPLATES):
        raise ValueError(
            f"per_key must be in [1, {len(_TEMPLATES)}] (the number of templates); got {per_key}"
        )
    rows: list[tuple[str, str, str, str | None, str]] = []
    for colour, shape, direction in combinations:
        for background in (None, *compatible_backgrounds(colour)):
            # Canonical template first, then the others in a random order without repeats.
            order = [0] + [
                1 + int(i)
                for i in torch.randperm(len(_TEMPLATES) - 1, generator=generator, device=generator.device)
            ]
            for template in order[:per_key]:
                bg_template = 0 if template == 0 else _randint(generator, len(_BACKGROUND_TEMPLATES))
                text = format_caption(colour, shape, direction, background, template, bg_template)
                rows.append((colour, shape, direction, background, text))
    return rows


def _known_words() -> str:
    return (
        f"colours: {', '.join(COLOURS)}; shapes: {', '.join(SHAPES)}; directions: {', '.join(DIRECTIONS)}; "
        f"backgrounds: {', '.join(BACKGROUNDS)}"
    )


def _find_background(words: list[str]) -> tuple[str | None, set[int]]:
    """The background named in ``words`` and the word positions its phrase uses.

    A background word counts as one when followed by "background"/"backdrop", or when it follows "on",
    "against" or "over" (allowing "a", "the", "plain" between). Otherwise it may be the object's colour
    ("a white square").
    """
    found: dict[str, set[int]] = {}
    for i, word in enumerate(words):
        name = _BACKGROUND_SYNONYMS.get(word, word)
        if name not in BACKGROUNDS:
            continue
        followed = i + 1 < len(words) and words[i + 1] in _BACKGROUND_NOUNS
        j = i - 1
        while j >= 0 and words[j] in _FILLERS:
            j -= 1
        preceded = j >= 0 and words[j] in _BACKGROUND_PREPOSITIONS
        if followed or preceded:
            found.setdefault(name, set()).add(i)
    if len(found) > 1:
        raise ValueError(f"the prompt names several backgrounds ({', '.join(sorted(found))}); name one")
    if not found:
        return None, set()
    ((name, positions),) = found.items()
    return name, positions


def _one(kind: str, hits: list[str], prompt: str) -> str:
    distinct = sorted(set(hits))
    if not distinct:
        raise ValueError(
            f"the prompt {prompt!r} names no {kind}; it needs a colour, a shape and a direction. "
            f"Known words: {_known_words()}"
        )
    if len(distinct) > 1:
        raise ValueError(f"the prompt {prompt!r} names several {kind}s ({', '.join(distinct)}); name one")
    return distinct[0]


def parse_prompt(prompt: str) -> PromptSpec:
    """Read colour, shape, direction and (optional) background from a prompt.

    Understands every caption template (e.g. "a circle, red, travelling rightwards against a blue
    backdrop") and a few synonyms (grey, disc, rhombus, ...). Raises ValueError listing the known words when
    the prompt lacks a colour, a shape or a direction, or names two different ones of a kind.
    """
    words = re.findall(r"[a-z]+", prompt.lower())
    background, used = _find_background(words)
    rest = [w for i, w in enumerate(words) if i not in used]
    colour = _one("colour", [w for w in rest if w in COLOURS], prompt)
    shape = _one(
        "shape", [_SHAPE_SYNONYMS.get(w, w) for w in rest if w in SHAPES or w in _SHAPE_SYNONYMS], prompt
    )
    direction = _one("direction", [_DIRECTION_WORDS[w] for w in rest if w in _DIRECTION_WORDS], prompt)
    return PromptSpec(colour, shape, direction, background)
