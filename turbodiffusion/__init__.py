"""TurboDiffusion: few-step, low-bit, sparse-attention video diffusion for Wan-class models.

``import turbodiffusion`` needs neither Triton nor a GPU and does no work: the public names below are
imported on first use (PEP 562 module ``__getattr__``).

    from turbodiffusion import TurboPipeline
    pipe = TurboPipeline.from_pretrained("turbowan2.1-t2v-1.3b-480p", attention="sla")
    pipe("a red fox running through snow").save("fox.mp4")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "TurboPipeline": "turbodiffusion.pipelines.pipeline",
    "VideoOutput": "turbodiffusion.pipelines.output",
    "GenerationSettings": "turbodiffusion.pipelines.output",
    "StageTimings": "turbodiffusion.pipelines.output",
    "ComponentConfigs": "turbodiffusion.pipelines.components",
    "PRESETS": "turbodiffusion.pipelines.presets",
    "AttentionConfig": "turbodiffusion.attention.config",
    "rcm_sample": "turbodiffusion.sampling.rcm",
    "flow_unipc_sample": "turbodiffusion.sampling.unipc",
}

__all__ = [
    "AttentionConfig",
    "ComponentConfigs",
    "GenerationSettings",
    "PRESETS",
    "StageTimings",
    "TurboPipeline",
    "VideoOutput",
    "__version__",
    "flow_unipc_sample",
    "rcm_sample",
]

if TYPE_CHECKING:
    from .attention.config import AttentionConfig
    from .pipelines.components import ComponentConfigs
    from .pipelines.output import GenerationSettings, StageTimings, VideoOutput
    from .pipelines.pipeline import TurboPipeline
    from .pipelines.presets import PRESETS
    from .sampling.rcm import rcm_sample
    from .sampling.unipc import flow_unipc_sample


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
