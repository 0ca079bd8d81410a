"""Text-to-video and image-to-video pipelines: ``TurboPipeline.from_pretrained(...)(prompt) -> VideoOutput``.

Names are imported on first use (``turbodiffusion.lazy``): the presets need no torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_HOMES = {
    "ComponentConfigs": ".components",
    "GenerationSettings": ".output",
    "StageTimings": ".output",
    "VideoOutput": ".output",
    "TurboPipeline": ".pipeline",
    "DEFAULT_PRESET": ".presets",
    "PRESETS": ".presets",
    "ModelPreset": ".presets",
    "get_preset": ".presets",
}
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
__all__ = sorted(_HOMES)
