"""Text-to-video and image-to-video pipelines: ``TurboPipeline.from_pretrained(...)(prompt) -> VideoOutput``."""

from .components import ComponentConfigs
from .output import GenerationSettings, StageTimings, VideoOutput
from .pipeline import TurboPipeline
from .presets import DEFAULT_PRESET, PRESETS, ModelPreset, get_preset

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "ComponentConfigs",
    "GenerationSettings",
    "ModelPreset",
    "StageTimings",
    "TurboPipeline",
    "VideoOutput",
    "get_preset",
]
