"""The synthetic video world the built-in default model is trained and evaluated on: vocabulary, scenes,
captions, and a vectorised renderer (see each module)."""

from .captions import PromptSpec, bank_captions, canonical_caption, caption, parse_prompt
from .render import render, sample_clips, to_uint8_frames
from .scenes import Scene, all_combinations, held_out_combinations, sample_scene, training_combinations
from .vocabulary import BACKGROUNDS, COLOURS, DEFAULT_BACKGROUND, DIRECTIONS, SHAPES

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "DEFAULT_BACKGROUND",
    "DIRECTIONS",
    "SHAPES",
    "PromptSpec",
    "Scene",
    "all_combinations",
    "bank_captions",
    "canonical_caption",
    "caption",
    "held_out_combinations",
    "parse_prompt",
    "render",
    "sample_clips",
    "sample_scene",
    "to_uint8_frames",
    "training_combinations",
]
